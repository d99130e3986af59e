// The forward pass's linear GEMM y = x · Wᵀ in float32 — OpenCL C 1.2, no extension.
//
// Layout (core/eval/forward.cpp): x [M, K] row-major (one row per token), W [N, K]
// row-major (out x in, as the model stores it), y [M, N] row-major; K is the
// reduction (input-channel) dimension, contiguous in both operands.
//
// Tiling: a work-group of 16 x 16 work-items computes a 64 x 64 tile of y, each
// work-item a 4 x 4 register block (rows ty*4 + i, columns tx*4 + j, kept as four
// float4 accumulators: the vector arithmetic runs over 4 output columns). Per step
// TK = 16 values of K of the tile's 64 rows of x and 64 rows of W are staged in
// local memory, each work-item loading one float4 of each (vload4 when the four
// values are inside K, else element by element with zeros outside). Sizes need
// not be multiples of anything: loads outside x/W read 0 (0 · 0 adds nothing, so
// NaN/Inf of real inputs never meet padding), stores outside y are skipped.
//
// Precision: each y_mn is one float accumulator summed over k in increasing
// order (the compiler may fuse the multiply-add); Eigen's CPU GEMM sums in
// another order, so the two agree within the dot-product bound
// |Δy_mn| <= 2·γ_K·Σ_k |x_mk w_nk|, γ_K = K·2^-24 / (1 - K·2^-24) (tests/test_opencl.cpp).
// NaN and ±Inf arise from the same terms in any order (no overflow of finite sums assumed).

#define TM 64
#define TN 64
#define TK 16
#define WG 16

__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void matmul_nt(__global const float* x, __global const float* W, __global float* y, const int M, const int N,
               const int K) {
    const int tx = (int)get_local_id(0);  // column block: y columns n0 + tx*4 .. +3
    const int ty = (int)get_local_id(1);  // row block: y rows m0 + ty*4 .. +3
    const int m0 = (int)get_group_id(1) * TM;
    const int n0 = (int)get_group_id(0) * TN;
    const int lin = ty * WG + tx;

    __local float Xs[TK][TM];  // Xs[k][m] = x[m0 + m, k0 + k]
    __local float Ws[TK][TN];  // Ws[k][n] = W[n0 + n, k0 + k]

    float4 acc0 = (float4)(0.0f), acc1 = (float4)(0.0f), acc2 = (float4)(0.0f), acc3 = (float4)(0.0f);

    // Loader: work-item lin loads row lr = lin / 4 (0..63), k quad lq = lin % 4.
    const int lr = lin >> 2;
    const int lq = (lin & 3) * 4;
    for (int k0 = 0; k0 < K; k0 += TK) {
        const int k = k0 + lq;
        float4 xv = (float4)(0.0f), wv = (float4)(0.0f);
        const int xm = m0 + lr, wn = n0 + lr;
        if (xm < M) {
            __global const float* p = x + (size_t)xm * (size_t)K + (size_t)k;
            if (k + 3 < K) xv = vload4(0, p);
            else {
                xv.s0 = k < K ? p[0] : 0.0f;
                xv.s1 = k + 1 < K ? p[1] : 0.0f;
                xv.s2 = k + 2 < K ? p[2] : 0.0f;
            }
        }
        if (wn < N) {
            __global const float* p = W + (size_t)wn * (size_t)K + (size_t)k;
            if (k + 3 < K) wv = vload4(0, p);
            else {
                wv.s0 = k < K ? p[0] : 0.0f;
                wv.s1 = k + 1 < K ? p[1] : 0.0f;
                wv.s2 = k + 2 < K ? p[2] : 0.0f;
            }
        }
        Xs[lq + 0][lr] = xv.s0;
        Xs[lq + 1][lr] = xv.s1;
        Xs[lq + 2][lr] = xv.s2;
        Xs[lq + 3][lr] = xv.s3;
        Ws[lq + 0][lr] = wv.s0;
        Ws[lq + 1][lr] = wv.s1;
        Ws[lq + 2][lr] = wv.s2;
        Ws[lq + 3][lr] = wv.s3;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; ++kk) {
            const float4 b = vload4(0, &Ws[kk][tx * 4]);
            const float4 a = vload4(0, &Xs[kk][ty * 4]);
            acc0 += a.s0 * b;
            acc1 += a.s1 * b;
            acc2 += a.s2 * b;
            acc3 += a.s3 * b;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int n = n0 + tx * 4;
    float4 accs[4] = {acc0, acc1, acc2, acc3};
    for (int i = 0; i < 4; ++i) {
        const int m = m0 + ty * 4 + i;
        if (m >= M) break;
        __global float* q = y + (size_t)m * (size_t)N + (size_t)n;
        const float4 v = accs[i];
        if (n + 3 < N) {
            vstore4(v, 0, q);
        } else {
            if (n < N) q[0] = v.s0;
            if (n + 1 < N) q[1] = v.s1;
            if (n + 2 < N) q[2] = v.s2;
        }
    }
}
