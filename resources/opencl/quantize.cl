// Fake quantization (RTN) in every format of core/quant/formats — OpenCL C 1.2,
// no extension required (cl_khr_fp64 only with -DQS_DIV_VIA_DOUBLE, see below).
//
// Bit-exact with the CPU path (core/quant/formats.cpp): every step below mirrors
// one there, in float32, in the same order:
//  * no contraction into fused multiply-add (FP_CONTRACT OFF), no fast-math;
//  * rint() is round-half-to-even, like std::nearbyint in FE_TONEAREST;
//  * division must be correctly rounded: the host builds with
//    -cl-fp32-correctly-rounded-divide-sqrt when the device supports it, else with
//    -DQS_DIV_VIA_DOUBLE (float -> double division -> float; double rounding is
//    innocuous for division since 53 >= 2*24 + 2); without either the host runs
//    the integer formats on the CPU;
//  * MX scaling by the block scale 2^e uses ldexp (correctly rounded in OpenCL),
//    which equals the CPU's division / multiplication by the float 2^e exactly
//    (2^-127 is a float denormal there; the device must keep denormals, which the
//    host checks);
//  * min/max follow std::min/std::max (a ternary on <), and the reductions are
//    exact and order-independent (min/max of values; the running min/max start at
//    +0 and only ever change to a strictly smaller/larger value, so no -0 appears).
//
// Layout: W and out are [rows, cols] row-major float. One work-group handles one
// (row, group) (row = get_group_id(1) + rowOffset: the host launches at most 32768
// rows at a time) — group = Int group / whole row (per channel) / MX block of 32 —
// with get_local_size(0) a power of two; the work-group reduces min/max/non-finite
// over its group in local memory, work-item 0 derives the parameters, and every
// work-item then quantizes the group's elements lid, lid + L, ...
#pragma OPENCL FP_CONTRACT OFF

#ifdef QS_DIV_VIA_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define QS_DIV(a, b) ((float)((double)(a) / (double)(b)))
#else
#define QS_DIV(a, b) ((a) / (b))
#endif

// qs::FormatKind values.
#define QS_KIND_INT 1
#define QS_KIND_MXINT8 2
#define QS_KIND_MXINT4 3
#define QS_KIND_E4M3 4
#define QS_KIND_E5M2 5
#define QS_KIND_E3M2 6
#define QS_KIND_E2M3 7
#define QS_KIND_E2M1 8

typedef struct {
    int isInt, ebits, mbits, bias, codeBits, emax, intFrac, intMax;
    float maxNorm;
} ElemSpec;

// formats.cpp specOf()
ElemSpec spec_of(int kind) {
    ElemSpec s;
    s.isInt = 0; s.ebits = 0; s.mbits = 0; s.bias = 0; s.codeBits = 8; s.emax = 0; s.intFrac = 0; s.intMax = 0;
    s.maxNorm = 0.0f;
    switch (kind) {
    case QS_KIND_MXINT8: s.isInt = 1; s.codeBits = 8; s.intFrac = 6; s.intMax = 127; s.maxNorm = 127.0f / 64.0f; break;
    case QS_KIND_MXINT4: s.isInt = 1; s.codeBits = 4; s.intFrac = 2; s.intMax = 7; s.maxNorm = 7.0f / 4.0f; break;
    case QS_KIND_E4M3: s.ebits = 4; s.mbits = 3; s.bias = 7; s.codeBits = 8; s.emax = 8; s.maxNorm = 448.0f; break;
    case QS_KIND_E5M2: s.ebits = 5; s.mbits = 2; s.bias = 15; s.codeBits = 8; s.emax = 15; s.maxNorm = 57344.0f; break;
    case QS_KIND_E3M2: s.ebits = 3; s.mbits = 2; s.bias = 3; s.codeBits = 6; s.emax = 4; s.maxNorm = 28.0f; break;
    case QS_KIND_E2M3: s.ebits = 2; s.mbits = 3; s.bias = 1; s.codeBits = 6; s.emax = 2; s.maxNorm = 7.5f; break;
    case QS_KIND_E2M1: s.ebits = 2; s.mbits = 1; s.bias = 1; s.codeBits = 4; s.emax = 2; s.maxNorm = 6.0f; break;
    default: break;
    }
    return s;
}

// formats.cpp encodeElem(): value already divided by the block scale; RNE + saturation.
uint encode_elem(const ElemSpec s, int kind, float x) {
    const uint signMask = 1u << (s.codeBits - 1);
    if (s.isInt) {
        if (isnan(x)) return 0u;
        float q = rint(ldexp(x, s.intFrac));
        const float lo = (float)(-s.intMax), hi = (float)s.intMax;
        q = (q < lo) ? lo : ((hi < q) ? hi : q);  // std::clamp
        const int v = (int)q;
        return ((uint)v) & ((1u << s.codeBits) - 1u);
    }
    const uint sign = signbit(x) ? signMask : 0u;
    if (isnan(x)) {
        if (kind == QS_KIND_E4M3 || kind == QS_KIND_E5M2) return sign | 0x7Fu;
        return 0u;
    }
    float a = fabs(x);
    if (isinf(a)) {
        if (kind == QS_KIND_E5M2) return sign | 0x7Cu;
        a = s.maxNorm;
    }
    const int emin = 1 - s.bias;
    float r = 0.0f;  // rounded magnitude
    if (a != 0.0f) {
        const int la = ilogb(a);
        const int pe = la > emin ? la : emin;       // std::max(ilogb(a), emin)
        const int qe = pe - s.mbits;                // exponent of one ulp
        const float m = rint(ldexp(a, -qe));        // exact scaling, RNE
        r = ldexp(m, qe);
        if (!(r <= s.maxNorm)) r = s.maxNorm;       // saturate
    }
    uint ef, mf;
    if (r < ldexp(1.0f, emin)) {
        ef = 0u;
        mf = (uint)ldexp(r, s.mbits - emin);
    } else {
        const int e = ilogb(r);
        ef = (uint)(e + s.bias);
        mf = (uint)ldexp(r, s.mbits - e) - (1u << s.mbits);
    }
    return sign | (ef << s.mbits) | mf;
}

// formats.cpp decodeFormula(): exact.
float decode_elem(const ElemSpec s, int kind, uint code) {
    code &= (1u << s.codeBits) - 1u;
    if (s.isInt) {
        int v = (int)code;
        if (v & (1 << (s.codeBits - 1))) v -= (1 << s.codeBits);  // two's complement
        return ldexp((float)v, -s.intFrac);
    }
    const int signBit = s.ebits + s.mbits;
    const int neg = (int)((code >> signBit) & 1u);
    const int ef = (int)((code >> s.mbits) & ((1u << s.ebits) - 1u));
    const int mf = (int)(code & ((1u << s.mbits) - 1u));
    float v;
    if (kind == QS_KIND_E4M3 && ef == 15 && mf == 7) {
        v = NAN;
    } else if (kind == QS_KIND_E5M2 && ef == 31) {
        v = mf == 0 ? INFINITY : NAN;
    } else if (ef == 0) {
        v = ldexp((float)mf, 1 - s.bias - s.mbits);
    } else {
        v = ldexp((float)(mf + (1 << s.mbits)), ef - s.bias - s.mbits);
    }
    return neg ? -v : v;
}

// formats.cpp intQ()
float int_q(float x, float scale, float zero, float maxq) {
    float q = rint(QS_DIV(x, scale)) + zero;
    q = q < 0.0f ? 0.0f : (q > maxq ? maxq : q);  // NaN passes through
    return q;
}

// The reduction over one group (all work-items of the work-group): min(min x, 0),
// max(max x, 0), any non-finite.
void group_minmax(__global const float* x, const int n, const int lid, const int L, __local float* lmin,
                  __local float* lmax, __local int* lbad, float* mnOut, float* mxOut, int* badOut) {
    float mn = 0.0f, mx = 0.0f;
    int bad = 0;
    for (int i = lid; i < n; i += L) {
        const float v = x[i];
        if (!isfinite(v)) bad = 1;
        else {
            mn = (v < mn) ? v : mn;
            mx = (mx < v) ? v : mx;
        }
    }
    lmin[lid] = mn;
    lmax[lid] = mx;
    lbad[lid] = bad;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L >> 1; h > 0; h >>= 1) {
        if (lid < h) {
            const float a = lmin[lid + h], b = lmax[lid + h];
            lmin[lid] = (a < lmin[lid]) ? a : lmin[lid];
            lmax[lid] = (lmax[lid] < b) ? b : lmax[lid];
            lbad[lid] |= lbad[lid + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    *mnOut = lmin[0];
    *mxOut = lmax[0];
    *badOut = lbad[0];
}

// formats.cpp intParams(): scale and zero of a group from its reduction (NaN scale
// for a group with a non-finite value).
void int_params(const float mn, const float mx, const int bad, const int bits, const int sym, float* scaleOut,
                float* zeroOut) {
    const float maxq = (float)((1 << bits) - 1);
    float scale, zero;
    if (bad) {
        scale = NAN;
        zero = 0.0f;
    } else {
        float xmin = mn, xmax = mx;
        if (sym) {
            const float axmin = fabs(xmin);
            xmax = (axmin < xmax) ? xmax : axmin;  // std::max(|xmin|, xmax)
            if (xmin < 0.0f) xmin = -xmax;
        }
        if (xmin == 0.0f && xmax == 0.0f) {
            xmin = -1.0f;
            xmax = 1.0f;
        }
        scale = QS_DIV(xmax - xmin, maxq);
        zero = sym ? QS_DIV(maxq + 1.0f, 2.0f) : rint(QS_DIV(-xmin, scale));
    }
    *scaleOut = scale;
    *zeroOut = zero;
}

// formats.cpp blockScaleByte(): the block's power-of-two exponent e (scale 2^e,
// -127 for an all-zero block) from its reduction (mn <= 0 <= mx, all finite).
int mx_exponent(const float mn, const float mx, const int emax) {
    const float nmn = -mn;
    const float amax = (mx < nmn) ? nmn : mx;  // max |x|
    if (amax == 0.0f) return -127;
    const int e = ilogb(amax) - emax;
    return e < -127 ? -127 : (e > 127 ? 127 : e);
}

__kernel void fake_quantize(__global const float* W, __global float* out, const int rows, const int cols,
                            const int groupLen, const int kind, const int bits, const int sym, const int rowOffset,
                            __local float* lmin, __local float* lmax, __local int* lbad) {
    const int lid = (int)get_local_id(0);
    const int L = (int)get_local_size(0);
    const int gi = (int)get_group_id(0);
    const int r = (int)get_group_id(1) + rowOffset;
    if (r >= rows) return;  // uniform per work-group
    const int c0 = gi * groupLen;
    const int n = min(groupLen, cols - c0);
    __global const float* x = W + (size_t)r * (size_t)cols + (size_t)c0;
    __global float* y = out + (size_t)r * (size_t)cols + (size_t)c0;

    float mn, mx;
    int bad;
    group_minmax(x, n, lid, L, lmin, lmax, lbad, &mn, &mx, &bad);

    if (kind == QS_KIND_INT) {
        const float maxq = (float)((1 << bits) - 1);
        float scale, zero;
        int_params(mn, mx, bad, bits, sym, &scale, &zero);
        for (int i = lid; i < n; i += L) y[i] = scale * (int_q(x[i], scale, zero, maxq) - zero);
        return;
    }

    // MX: formats.cpp blockScaleByte() + mxFake()
    const ElemSpec s = spec_of(kind);
    if (bad) {
        for (int i = lid; i < n; i += L) y[i] = NAN;
        return;
    }
    const int e = mx_exponent(mn, mx, s.emax);
    for (int i = lid; i < n; i += L) {
        const uint c = encode_elem(s, kind, ldexp(x[i], -e));  // x / 2^e, exact as the CPU's division
        y[i] = ldexp(decode_elem(s, kind, c), e);               // tab[c] * 2^e
    }
}

// ---------------------------------------------------------------------------
// Exact storage: pack / unpack (formats.cpp pack() / unpack()), bit-exact.
//
// PackedMatrix layout (formats.h): per row ceil(cols * bits / 8) bytes, codes of
// `bits` bits packed densely little end first (element c occupies bits
// [c*bits, (c+1)*bits) of its row, bit k of the code at row bit c*bits + k); per
// (row, group): Int: fp32 scale + uint8 zero, MX: an E8M0 byte.
//
// pack runs in two kernels:
//  * quant_params: one work-group per (row, group), the same reduction and the
//    same parameter arithmetic as fake_quantize: Int -> scale and zero as floats
//    (the host converts zero to its byte with formats.cpp's own cast), MX -> the
//    E8M0 byte (0xFF = NaN block, as blockScaleByte);
//  * pack_codes: one work-item per output byte (row, b); it re-derives the codes
//    of the (at most 8/bits + 2) elements overlapping bits [8b, 8b+8) of the row
//    from the parameters, so no two work-items write one byte. A NaN group/block
//    stores codes 0 (as the CPU skips it). intQ() is NaN only when the group's
//    scale underflowed to 0 (denormal-only groups); the code is then 0, as
//    formats.cpp pack() stores it.
// unpack_codes: one work-item per element.

// Params of every (row, group): scale/zero [rows * groups] (Int) or sbyte (MX).
__kernel void quant_params(__global const float* W, const int rows, const int cols, const int groupLen,
                           const int groups, const int kind, const int bits, const int sym, const int rowOffset,
                           __global float* scaleOut, __global float* zeroOut, __global uchar* sbyteOut,
                           __local float* lmin, __local float* lmax, __local int* lbad) {
    const int lid = (int)get_local_id(0);
    const int L = (int)get_local_size(0);
    const int gi = (int)get_group_id(0);
    const int r = (int)get_group_id(1) + rowOffset;
    if (r >= rows) return;  // uniform per work-group
    const int c0 = gi * groupLen;
    const int n = min(groupLen, cols - c0);
    float mn, mx;
    int bad;
    group_minmax(W + (size_t)r * (size_t)cols + (size_t)c0, n, lid, L, lmin, lmax, lbad, &mn, &mx, &bad);
    if (lid != 0) return;
    const size_t o = (size_t)r * (size_t)groups + (size_t)gi;
    if (kind == QS_KIND_INT) {
        float scale, zero;
        int_params(mn, mx, bad, bits, sym, &scale, &zero);
        scaleOut[o] = scale;
        zeroOut[o] = zero;
        return;
    }
    // formats.cpp blockScaleByte()
    const ElemSpec s = spec_of(kind);
    sbyteOut[o] = bad ? (uchar)0xFFu : (uchar)(mx_exponent(mn, mx, s.emax) + 127);
}

// The code of element c of row r (given the row's data x and its group params).
uint code_of(__global const float* x, const int c, const int gi, const size_t o, const int kind, const int bits,
             const ElemSpec s, __global const float* scale, __global const float* zero, __global const uchar* sbyte) {
    if (kind == QS_KIND_INT) {
        const float sc = scale[o];
        if (isnan(sc)) return 0u;  // NaN group: codes 0
        const float maxq = (float)((1 << bits) - 1);
        const float q = int_q(x[c], sc, zero[o], maxq);
        return isnan(q) ? 0u : (uint)q;  // q is an integer in [0, maxq] or NaN
    }
    const uint b = (uint)sbyte[o];
    if (b == 0xFFu) return 0u;  // NaN block: codes 0
    return encode_elem(s, kind, ldexp(x[c], 127 - (int)b));  // x / 2^e, exact as the CPU's division
}

// One byte of packed codes per work-item: global (rowBytes, rows of this launch).
__kernel void pack_codes(__global const float* W, const int rows, const int cols, const int groupLen,
                         const int groups, const int kind, const int bits, const int rowBytes, const int rowOffset,
                         __global const float* scale, __global const float* zero, __global const uchar* sbyte,
                         __global uchar* codes) {
    const int b = (int)get_global_id(0);
    const int r = (int)get_global_id(1) + rowOffset;
    if (b >= rowBytes || r >= rows) return;
    const ElemSpec s = spec_of(kind);
    __global const float* x = W + (size_t)r * (size_t)cols;
    const int lo = b * 8;                 // row bits [lo, lo + 8)
    const int i0 = lo / bits;
    const int i1 = min(cols - 1, (lo + 7) / bits);
    uint byte = 0u;
    for (int i = i0; i <= i1; ++i) {
        const int gi = i / groupLen;
        const uint code = code_of(x, i, gi, (size_t)r * (size_t)groups + (size_t)gi, kind, bits, s, scale, zero, sbyte);
        const int p = i * bits;           // first row bit of element i
        byte |= (p >= lo) ? (code << (p - lo)) : (code >> (lo - p));
    }
    codes[(size_t)r * (size_t)rowBytes + (size_t)b] = (uchar)(byte & 0xFFu);
}

// formats.cpp unpack(): one element per work-item, global (cols, rows of this launch).
__kernel void unpack_codes(__global const uchar* codes, const int rows, const int cols, const int groupLen,
                           const int groups, const int kind, const int bits, const int rowBytes, const int rowOffset,
                           __global const float* scale, __global const uchar* zero, __global const uchar* sbyte,
                           __global float* out) {
    const int c = (int)get_global_id(0);
    const int r = (int)get_global_id(1) + rowOffset;
    if (c >= cols || r >= rows) return;
    __global const uchar* row = codes + (size_t)r * (size_t)rowBytes;
    const int pos = c * bits;
    const int byte = pos >> 3, off = pos & 7;
    uint v = (uint)row[byte];
    if (off + bits > 8) v |= (uint)row[byte + 1] << 8;  // a code spans at most two bytes (bits <= 8)
    const uint code = (v >> off) & ((1u << bits) - 1u);
    const size_t o = (size_t)r * (size_t)groups + (size_t)(c / groupLen);
    float y;
    if (kind == QS_KIND_INT) {
        y = scale[o] * ((float)code - (float)zero[o]);
    } else {
        const uint sb = (uint)sbyte[o];
        if (sb == 0xFFu) {
            y = NAN;
        } else {
            const float X = ldexp(1.0f, (int)sb - 127);  // scaleFromByte: 2^-127 is a denormal
            y = decode_elem(spec_of(kind), kind, code) * X;
        }
    }
    out[(size_t)r * (size_t)cols + (size_t)c] = y;
}
