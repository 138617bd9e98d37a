//go:build ignore

// cublas_shim_check.c: `make cuda-vet` builds and runs this against the
// toolkit's libcublas: the shim must dlopen it and resolve every entry
// point. Without a GPU, cublasCreate then fails cleanly (no crash); with
// one, it must succeed. Not part of any Go build.
#include <stdio.h>
#include <stdlib.h>

#include "cublas_shim.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s /path/to/libcublas.so.N\n", argv[0]);
    return 2;
  }
  char err[1024];
  if (mixft_cublas_open(argv[1], err, sizeof err) != 0) {
    fprintf(stderr, "cublas shim: %s\n", err);
    return 1;
  }
  void* h = 0;
  int rc = mixft_cublas_create(&h);
  printf("cublas shim: %s loaded, every entry point resolved; cublasCreate status %d (%s)\n", argv[1], rc,
         rc == 0 ? "a GPU is present" : "no usable GPU here, as expected on CI");
  if (rc == 0) {
    int v = 0;
    mixft_cublas_get_version(h, &v);
    printf("cublas version %d\n", v);
    mixft_cublas_destroy(h);
  }
  return 0;
}
