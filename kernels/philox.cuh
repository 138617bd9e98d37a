// philox.cuh: Philox4x32-10 and mixft's stream layout, bit for bit as
// internal/philox/philox.go (read its package doc: this file mirrors it).
//
//   Block(c, k): 10 rounds; before rounds 2..10 the key is bumped by (W0, W1);
//     round: hi0:lo0 = M0*c0; hi1:lo1 = M1*c2;
//            c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
//   stream element i of (seed, step, id) = Block(ctr, key)[i % 4] with
//     ctr = (uint32(i/4), id, uint32(step), uint32(step>>32)),
//     key = (uint32(seed), uint32(seed>>32))
//   keep(w, p) = float(w >> 8) * 2^-24 >= p   (float32 comparison)
#pragma once

#include "common.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// PhiloxWords are the four output words of one block, kept in scalars (an
// array indexed at run time would live in local memory on the device).
struct PhiloxWords {
  unsigned w0, w1, w2, w3;
};

HD unsigned philox_mulhi(unsigned a, unsigned b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
#endif
}

// philox_block is Philox4x32-10 of counter (c0..c3) under key (k0, k1).
HD PhiloxWords philox_block(unsigned c0, unsigned c1, unsigned c2, unsigned c3, unsigned k0, unsigned k1) {
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    const unsigned hi0 = philox_mulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
    const unsigned hi1 = philox_mulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
    const unsigned n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  PhiloxWords out = {c0, c1, c2, c3};
  return out;
}

// philox_pick returns word i (0..3) of a block.
HD unsigned philox_pick(PhiloxWords w, unsigned i) {
  return i == 0 ? w.w0 : i == 1 ? w.w1 : i == 2 ? w.w2 : w.w3;
}

// PhiloxStream is philox.Stream: (seed, step, id).
struct PhiloxStream {
  unsigned long long seed, step;
  unsigned id;
};

HD PhiloxStream philox_stream(unsigned long long seed, unsigned long long step, unsigned id) {
  PhiloxStream s = {seed, step, id};
  return s;
}

// philox_stream_block returns elements 4b..4b+3 of the stream.
HD PhiloxWords philox_stream_block(PhiloxStream s, unsigned b) {
  return philox_block(b, s.id, static_cast<unsigned>(s.step), static_cast<unsigned>(s.step >> 32),
                      static_cast<unsigned>(s.seed), static_cast<unsigned>(s.seed >> 32));
}

// philox_stream_word returns element i (< 2^34) of the stream.
HD unsigned philox_stream_word(PhiloxStream s, unsigned long long i) {
  return philox_pick(philox_stream_block(s, static_cast<unsigned>(i >> 2)), static_cast<unsigned>(i & 3));
}

// philox_uniform maps a word to [0, 1) with its top 24 bits (exact).
HD float philox_uniform(unsigned w) { return static_cast<float>(w >> 8) * 5.9604644775390625e-08f; }

// philox_keep: the element survives drop/replace probability p.
HD bool philox_keep(unsigned w, float p) { return philox_uniform(w) >= p; }
