// Hessian accumulation G = X'ᵀX' with X' = f · X (f = sqrt(2/n)), lower triangle
// only — OpenCL C 1.2 + cl_khr_fp64 (the host runs this operation on the CPU when
// the device lacks double precision).
//
// Precision: as the CPU path (core/compute/backend.cpp, calib/hessian.cpp): each
// element is converted to double and scaled in double ((double)x * f, one
// rounding, identical to the CPU's X'), products and sums in double. Only the
// summation order differs (tiles of TK tokens here, Eigen's GEMM blocking on the
// CPU), so results agree to a few ulps of the sum of |products| — the test
// allows 1e-12 relative to f² Σ_t |x_ti x_tj|.
//
// Layout: X is [tokens, in] row-major float; G is [in, in] column-major double
// (element (i, j) at j*in + i, as Eigen::MatrixXd), written only for i >= j.
// Tiling: a work-group of 16 x 16 work-items computes a TS x TS = 64 x 64 tile of
// G, each work-item a 4 x 4 register block (rows lx + 16a, columns ly + 16b);
// TK tokens of the tile's row and column panels are staged in local memory per
// step. Work-groups of tiles above the diagonal return at once. Sizes need not be
// multiples of anything: loads outside X read as 0, stores outside G are skipped.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define TS 64
#define TK 16
#define WG 16
#define WPT 4

__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void xtx_lower(__global const float* X, const int tokens, const int in, const double f, __global double* G) {
    const int ti = (int)get_group_id(0);  // tile of rows i
    const int tj = (int)get_group_id(1);  // tile of columns j
    if (tj > ti) return;                  // above the diagonal (uniform per work-group)
    const int lx = (int)get_local_id(0);
    const int ly = (int)get_local_id(1);
    const int lin = ly * WG + lx;

    __local double As[TK][TS];  // As[k][c] = X'[t0 + k, ti*TS + c]
    __local double Bs[TK][TS];  // Bs[k][c] = X'[t0 + k, tj*TS + c]

    double acc[WPT][WPT];
    for (int a = 0; a < WPT; ++a)
        for (int b = 0; b < WPT; ++b) acc[a][b] = 0.0;

    for (int t0 = 0; t0 < tokens; t0 += TK) {
        for (int l = lin; l < TK * TS; l += WG * WG) {
            const int k = l / TS, c = l % TS;
            const int t = t0 + k;
            const int ci = ti * TS + c, cj = tj * TS + c;
            const size_t row = (size_t)t * (size_t)in;
            As[k][c] = (t < tokens && ci < in) ? (double)X[row + (size_t)ci] * f : 0.0;
            Bs[k][c] = (t < tokens && cj < in) ? (double)X[row + (size_t)cj] * f : 0.0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TK; ++k) {
            double av[WPT], bv[WPT];
            for (int a = 0; a < WPT; ++a) av[a] = As[k][lx + a * WG];
            for (int b = 0; b < WPT; ++b) bv[b] = Bs[k][ly + b * WG];
            for (int a = 0; a < WPT; ++a)
                for (int b = 0; b < WPT; ++b) acc[a][b] += av[a] * bv[b];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int a = 0; a < WPT; ++a) {
        const int i = ti * TS + lx + a * WG;
        if (i >= in) continue;
        for (int b = 0; b < WPT; ++b) {
            const int j = tj * TS + ly + b * WG;
            if (j < in && j <= i) G[(size_t)j * (size_t)in + (size_t)i] = acc[a][b];
        }
    }
}
