// GPTQ's lazy-batch update W -= E · U in double — OpenCL C 1.2 + cl_khr_fp64 (the
// host runs the update on the CPU path when the device lacks double precision:
// GPTQ's working weights and Hinv are double, core/quant/gptq.cpp).
//
// Layout (Eigen's column-major, as gptq.cpp holds them; all three dense, leading
// dimension = rows): W [R, C] (the not-yet-quantized columns W[:, i2:]),
// E [R, Kd] (the block's scaled errors Err1), U [Kd, C] (Hinv[i1:i2, i2:]).
// Element (i, j) of an [r, c] matrix is at j*r + i.
//
// Tiling: a work-group of 16 x 16 work-items computes a 64 x 64 tile of W, each
// work-item a 4 x 4 register block (rows lx + 16a, columns ly + 16b); TK = 16
// values of the reduction dimension of E's 64 rows and U's 64 columns are staged
// in local memory per step. Loads outside read 0, stores outside are skipped.
//
// Precision: acc = Σ_k E_ik U_kj in double, k increasing, then W_ij - acc (one
// rounding); Eigen's GEMM blocks the sum differently, so the two agree within
// |ΔW_ij| <= 2·γ_Kd·(|W_ij| + Σ_k |E_ik U_kj|), γ_Kd = Kd·2^-53 / (1 - Kd·2^-53).
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define TS 64
#define TK 16
#define WG 16
#define WPT 4

__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void gptq_update(__global double* W, __global const double* E, __global const double* U, const int R, const int C,
                 const int Kd) {
    const int lx = (int)get_local_id(0);
    const int ly = (int)get_local_id(1);
    const int i0 = (int)get_group_id(0) * TS;  // rows of W
    const int j0 = (int)get_group_id(1) * TS;  // columns of W
    const int lin = ly * WG + lx;

    __local double Es[TK][TS];  // Es[k][i] = E[i0 + i, k0 + k]
    __local double Us[TK][TS];  // Us[k][j] = U[k0 + k, j0 + j]

    double acc[WPT][WPT];
    for (int a = 0; a < WPT; ++a)
        for (int b = 0; b < WPT; ++b) acc[a][b] = 0.0;

    for (int k0 = 0; k0 < Kd; k0 += TK) {
        for (int l = lin; l < TK * TS; l += WG * WG) {
            // E: consecutive work-items read consecutive rows of one column (coalesced)
            const int ei = l % TS, ek = l / TS;
            const int gi = i0 + ei, gk = k0 + ek;
            Es[ek][ei] = (gi < R && gk < Kd) ? E[(size_t)gk * (size_t)R + (size_t)gi] : 0.0;
            // U: consecutive work-items read consecutive k of one column
            const int uk = l % TK, uj = l / TK;
            const int gk2 = k0 + uk, gj = j0 + uj;
            Us[uk][uj] = (gk2 < Kd && gj < C) ? U[(size_t)gj * (size_t)Kd + (size_t)gk2] : 0.0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TK; ++k) {
            double av[WPT], bv[WPT];
            for (int a = 0; a < WPT; ++a) av[a] = Es[k][lx + a * WG];
            for (int b = 0; b < WPT; ++b) bv[b] = Us[k][ly + b * WG];
            for (int a = 0; a < WPT; ++a)
                for (int b = 0; b < WPT; ++b) acc[a][b] += av[a] * bv[b];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int a = 0; a < WPT; ++a) {
        const int i = i0 + lx + a * WG;
        if (i >= R) continue;
        for (int b = 0; b < WPT; ++b) {
            const int j = j0 + ly + b * WG;
            if (j < C) {
                const size_t o = (size_t)j * (size_t)R + (size_t)i;
                W[o] = W[o] - acc[a][b];
            }
        }
    }
}
