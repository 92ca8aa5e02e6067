// OpenBLAS reference timings for the SAE encoder shapes, printed as Go
// benchmark lines so they sit next to `go test -bench EncodeGEMM` output
// (and benchstat reads both).
//
// C[T,N] = A[T,K] @ W[K,N], row-major float32, random N(0,1)-ish data:
// cblas_sgemm for every T and cblas_sgemv for T=1 (OpenBLAS gets the raw
// row-major W and packs it itself on every sgemm call, as it would in use).
// Timing mirrors the Go harness: one warm-up call, then `iters` calls timed
// with a monotonic clock; GFLOP/s = 2*T*K*N / seconds per call, GB/s = bytes
// of W per call / seconds per call, cpu-util = process CPU seconds / wall,
// GFLOP/cpu-s and GB/cpu-s = work per CPU second. (OpenBLAS's idle threads spin for a
// while, so its cpu-util can exceed the useful work.)
//
// Usage: bench ITERS [SHAPE [T...]]   (SHAPE gpt2|gemma; default both, T 1 8 128 512)
// The thread count is OpenBLAS's (OPENBLAS_NUM_THREADS); run.sh sets it.
// SAEX_HUGEPAGES=1 advises transparent huge pages for W, A and C.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_seconds(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

// With SAEX_HUGEPAGES=1 large matrices are 2 MiB-aligned and advised to use
// transparent huge pages, as saex's kernel does for its packed weights, so
// the two are compared on the same kind of memory.
static int hugepages;

static float *rand_mat(size_t n, unsigned *seed) {
	size_t bytes = ((n * sizeof(float)) + 63) / 64 * 64;
	size_t align = hugepages && bytes >= (4u << 20) ? (2u << 20) : 64;
	bytes = (bytes + align - 1) / align * align;
	float *p = aligned_alloc(align, bytes);
	if (!p) {
		fprintf(stderr, "out of memory allocating %zu floats\n", n);
		exit(1);
	}
	if (align > 64) madvise(p, bytes, MADV_HUGEPAGE);
	for (size_t i = 0; i < n; i++) {
		// Sum of 4 uniforms, centred: cheap and roughly normal.
		float s = 0;
		for (int j = 0; j < 4; j++) s += (float)rand_r(seed) / RAND_MAX;
		p[i] = s - 2.0f;
	}
	return p;
}

struct shape { const char *name; int k, n; };

static void report(const char *shape, int t, const char *method, int threads, int iters, double sec,
                   double flops, double wbytes, double util) {
	double per = sec / iters;
	printf("BenchmarkOpenBLAS/%s/T=%d/%s/th=%d \t%8d\t%12.0f ns/op\t%10.2f GFLOP/s\t%8.2f GB/s\t%8.3f ms/op\t%6.3f cpu-util\t%10.2f GFLOP/cpu-s\t%8.2f GB/cpu-s\n",
	       shape, t, method, threads, iters, per * 1e9, flops / per / 1e9, wbytes / per / 1e9, per * 1e3, util,
	       flops / per / 1e9 / util, wbytes / per / 1e9 / util);
	fflush(stdout);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s ITERS [gpt2|gemma [T...]]\n", argv[0]);
		return 2;
	}
	int iters = atoi(argv[1]);
	if (iters < 1) {
		fprintf(stderr, "ITERS must be >= 1, got %s\n", argv[1]);
		return 2;
	}
	struct shape shapes[] = {{"gpt2", 768, 24576}, {"gemma", 2304, 16384}};
	int ts[16] = {1, 8, 128, 512}, nts = 4;
	const char *only = argc >= 3 ? argv[2] : NULL;
	if (argc >= 4) {
		nts = 0;
		for (int i = 3; i < argc && nts < 16; i++) ts[nts++] = atoi(argv[i]);
	}
	const char *hp = getenv("SAEX_HUGEPAGES");
	hugepages = hp && *hp && strcmp(hp, "0") != 0;
	int threads = openblas_get_num_threads();
	printf("# OpenBLAS %s, core %s, %d threads, huge pages %s\n", openblas_get_config(), openblas_get_corename(), threads,
	       hugepages ? "advised" : "off");
	unsigned seed = 1;
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		struct shape sh = shapes[s];
		if (only && strcmp(only, sh.name) != 0) continue;
		float *w = rand_mat((size_t)sh.k * sh.n, &seed);
		double wbytes = (double)sh.k * sh.n * 4;
		for (int ti = 0; ti < nts; ti++) {
			int t = ts[ti];
			float *a = rand_mat((size_t)t * sh.k, &seed);
			float *c = rand_mat((size_t)t * sh.n, &seed);
			double flops = 2.0 * t * sh.k * sh.n;
			// sgemm: C = A @ W, all row-major.
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, sh.n, sh.k, 1.0f, a, sh.k, w, sh.n, 0.0f, c, sh.n);
			double c0 = cpu_seconds(), t0 = now();
			for (int i = 0; i < iters; i++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, sh.n, sh.k, 1.0f, a, sh.k, w, sh.n, 0.0f, c, sh.n);
			double sec = now() - t0;
			report(sh.name, t, "sgemm", threads, iters, sec, flops, wbytes, (cpu_seconds() - c0) / sec);
			if (t == 1) {
				// sgemv: c = W^T a, i.e. the row vector a @ W.
				cblas_sgemv(CblasRowMajor, CblasTrans, sh.k, sh.n, 1.0f, w, sh.n, a, 1, 0.0f, c, 1);
				c0 = cpu_seconds(), t0 = now();
				for (int i = 0; i < iters; i++)
					cblas_sgemv(CblasRowMajor, CblasTrans, sh.k, sh.n, 1.0f, w, sh.n, a, 1, 0.0f, c, 1);
				sec = now() - t0;
				report(sh.name, t, "sgemv", threads, iters, sec, flops, wbytes, (cpu_seconds() - c0) / sec);
			}
			free(a);
			free(c);
		}
		free(w);
	}
	return 0;
}
