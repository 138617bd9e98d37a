// onednn_gemm times oneDNN's own matmul, fp32 and bf16 (bf16 inputs, fp32
// output), on the shapes given as MxNxK arguments: the yardstick of
// mixft's GEMMs (docs/PERFORMANCE.md). C = A·Bᵀ with A m×k and B n×k
// row-major, as a Linear layer's forward and mixft bench --gemm's "A·Bᵀ"
// column. bf16 is timed twice: the matmul alone (inputs already bf16,
// favouring oneDNN) and with the two fp32->bf16 reorders autocast runs
// before it (what mixft's bf16 GEMM does in its packing).
//
// Not part of mixft's build (the default build has no cgo). Build and run:
//   make onednn-gemm      (Debian: apt-get install libdnnl-dev)
//   OMP_NUM_THREADS=2 bin/onednn-gemm 1024x1024x1024 4096x2304x768
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(f)                                                                      \
  do {                                                                                \
    dnnl_status_t s_ = (f);                                                           \
    if (s_ != dnnl_success) {                                                         \
      fprintf(stderr, "onednn-gemm: %s:%d: %s: status %d\n", __FILE__, __LINE__, #f, \
              (int)s_);                                                               \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cputime(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static dnnl_engine_t eng;
static dnnl_stream_t strm;

// mat makes a row-major memory of rows×cols (tag ab) or its transpose's
// storage (tag ba for a k×n weight stored n×k), filled with small values.
static dnnl_memory_t mat(dnnl_memory_desc_t *md, long rows, long cols, dnnl_data_type_t dt,
                         dnnl_format_tag_t tag) {
  dnnl_dims_t dims = {rows, cols};
  CHECK(dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag));
  dnnl_memory_t m;
  CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
  void *p;
  CHECK(dnnl_memory_get_data_handle(m, &p));
  unsigned seed = 1;
  for (long i = 0; i < rows * cols; i++) {
    seed = seed * 1103515245u + 12345u;
    float v = (float)((seed >> 16) & 0x7fff) / 32768.0f - 0.5f;
    if (dt == dnnl_f32) {
      ((float *)p)[i] = v;
    } else {
      unsigned u;
      memcpy(&u, &v, 4);
      ((unsigned short *)p)[i] = (unsigned short)(u >> 16);
    }
  }
  return m;
}

// reorder makes the primitive converting src (f32) into a new dst memory of dt.
static dnnl_primitive_t reorder(dnnl_memory_t src, dnnl_memory_t *dst, dnnl_data_type_t dt) {
  const dnnl_memory_desc_t *smd;
  CHECK(dnnl_memory_get_memory_desc(src, &smd));
  dnnl_memory_desc_t dmd = *smd;
  dmd.data_type = dt;
  CHECK(dnnl_memory_create(dst, &dmd, eng, DNNL_MEMORY_ALLOCATE));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_reorder_primitive_desc_create(&pd, smd, eng, &dmd, eng, NULL));
  dnnl_primitive_t r;
  CHECK(dnnl_primitive_create(&r, pd));
  CHECK(dnnl_primitive_desc_destroy(pd));
  return r;
}

static void run_reorder(dnnl_primitive_t r, dnnl_memory_t src, dnnl_memory_t dst) {
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
  CHECK(dnnl_primitive_execute(r, strm, 2, args));
}

static void bench(long m, long n, long k, dnnl_data_type_t dt, int with_reorders, double min_time) {
  dnnl_memory_desc_t amd, bmd, cmd;
  dnnl_memory_t a = mat(&amd, m, k, dt, dnnl_ab);
  dnnl_memory_t b = mat(&bmd, k, n, dt, dnnl_ba);
  dnnl_memory_t c = mat(&cmd, m, n, dnnl_f32, dnnl_ab);
  dnnl_memory_desc_t amd32, bmd32;
  dnnl_memory_t a32 = NULL, b32 = NULL, ac = NULL, bc = NULL;
  dnnl_primitive_t ra = NULL, rb = NULL;
  if (with_reorders) {
    a32 = mat(&amd32, m, k, dnnl_f32, dnnl_ab);
    b32 = mat(&bmd32, k, n, dnnl_f32, dnnl_ba);
    ra = reorder(a32, &ac, dt);
    rb = reorder(b32, &bc, dt);
  }
  dnnl_matmul_desc_t d;
  CHECK(dnnl_matmul_desc_init(&d, &amd, &bmd, NULL, &cmd));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, eng, NULL));
  const char *impl = "?";
  CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
  dnnl_primitive_t mm;
  CHECK(dnnl_primitive_create(&mm, pd));
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
  double times[400];
  int reps = 0;
  double start = wall(), c0 = 0, c1 = 0;
  for (int i = -1; reps < 400 && (reps < 3 || wall() - start < min_time); i++) {
    double t0 = wall();
    if (i == 0) c0 = cputime();
    if (with_reorders) {
      run_reorder(ra, a32, ac);
      run_reorder(rb, b32, bc);
    }
    CHECK(dnnl_primitive_execute(mm, strm, 3, args));
    CHECK(dnnl_stream_wait(strm));
    if (i >= 0) times[reps++] = wall() - t0;
  }
  c1 = cputime();
  qsort(times, reps, sizeof times[0], cmp);
  double flop = 2.0 * m * n * k, total = 0;
  for (int i = 0; i < reps; i++) total += times[i];
  printf("onednn %-4s%s %5ldx%5ldx%5ld  %7.1f GFLOP/s median (best %.1f, %d reps; %.1f GFLOP per CPU-second)  %s\n",
         dt == dnnl_f32 ? "fp32" : "bf16", with_reorders ? "+cvt" : "    ", m, n, k,
         flop / times[reps / 2] / 1e9, flop / times[0] / 1e9, reps, flop * reps / (c1 - c0) / 1e9, impl);
  fflush(stdout);
  dnnl_primitive_destroy(mm);
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_destroy(a);
  dnnl_memory_destroy(b);
  dnnl_memory_destroy(c);
  if (with_reorders) {
    dnnl_primitive_destroy(ra);
    dnnl_primitive_destroy(rb);
    dnnl_memory_destroy(a32);
    dnnl_memory_destroy(b32);
    dnnl_memory_destroy(ac);
    dnnl_memory_destroy(bc);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: onednn-gemm MxNxK...  (OMP_NUM_THREADS sets the threads)\n");
    return 2;
  }
  const dnnl_version_t *v = dnnl_version();
  printf("oneDNN %d.%d.%d (%s)\n", v->major, v->minor, v->patch, v->hash);
  CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
  for (int i = 1; i < argc; i++) {
    long m, n, k;
    if (sscanf(argv[i], "%ldx%ldx%ld", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
      fprintf(stderr, "onednn-gemm: %s is not MxNxK\n", argv[i]);
      return 2;
    }
    bench(m, n, k, dnnl_f32, 0, 0.5);
    bench(m, n, k, dnnl_bf16, 0, 0.5);
    bench(m, n, k, dnnl_bf16, 1, 0.5);
  }
  return 0;
}
