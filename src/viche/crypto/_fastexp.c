/*
 * viche.crypto._fastexp: Montgomery arithmetic modulo a fixed odd modulus, for the
 * exponentiations of viche.crypto.fastexp.
 *
 * Values stay in Montgomery form (x·R mod p) for a whole exponentiation and are converted
 * once on the way in and once on the way out. Two kernels multiply:
 *   - GMP's public mpn layer: one mpn_mul_n (or mpn_sqr) and a Montgomery reduction (REDC)
 *     by rows of mpn_addmul_1, instead of a multiplication and a division; R = 2^(64·n);
 *   - on x86-64 CPUs with AVX-512 IFMA, for moduli of at most 2078 bits: an "almost
 *     Montgomery" multiplication in radix 2^52 (40 limbs, R = 2^2080) on the 52-bit
 *     multiply-adds of eight 64-bit lanes (vpmadd52luq/vpmadd52huq); values stay below 2p.
 *   Modulus(p, "auto") takes IFMA for 1025-2078-bit moduli when the CPU has it. One IFMA
 *   product's steps wait on each other, so independent products are done WAYS (3) at a time
 *   in one pass (amm52_n; squarings by ams52_n, which computes each cross product once):
 *   three chains of squarings, three exponents' buckets, three table exponents.
 *
 * Variants of the IFMA kernel (same results, limb for limb): "zen4" (amm52_n, ams52_n) and
 * "intel" (amm52v_n for every product). "auto" and "ifma" take IFMA_VARIANT, a guess by
 * vendor ("zen4" on AMD, "intel" elsewhere); which one is faster depends on the CPU and not
 * only on its vendor, so viche.crypto.fastexp times both on real work in each process and
 * asks for the faster one by name.
 *
 * Objects:
 *   Modulus(p, kernel="auto")   p odd, 3 <= p < 2^16384; kernel "auto", "mpn" or "ifma"
 *                               (or "ifma-zen4" / "ifma-intel": that variant)
 *     .pow_many(base, exps)     [base^e mod p for e in exps], one chain of squarings shared
 *                               by all exponents (Yao's bucket method, sliding windows)
 *     .pow_many_batch([(base, exps), ...])   the same for several bases in one call
 *     .multi_pow(bases, exps)   prod base_i^e_i mod p (Straus: shared squarings)
 *     .pow_products(requests, fixed, products[, text_from])   products of the powers of a
 *                               batch and of tables, multiplied in Montgomery form; from
 *                               index text_from on as their decimal str (mpn_get_str)
 *     .table(base, max_bits)    a FixedBaseTable of base for exponents below 2^max_bits
 *   FixedBaseTable
 *     .pow(e), .pow_mul(e, f)   base^e, f·base^e mod p: one product per non-zero byte of e
 *     .pow_many(exps)           [base^e mod p for e in exps]
 *   pow_many(base, exps, p)     Modulus(p).pow_many(base, exps)
 *
 * Inputs are Python ints or anything with __index__ (gmpy2.mpz, read in place when its
 * layout checks out at import: MPZ_READ_IN_PLACE); results are gmpy2.mpz (or str).
 * Every input is checked (bases and factors in [0, p), exponents in [0, 2^16384) or below
 * the table's size) and refused with ValueError / TypeError; the arithmetic runs without
 * the GIL. Timing is not constant (public values: verification).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <gmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if GMP_NAIL_BITS != 0
#error "GMP with nail bits is not supported"
#endif

#define LIMB_BYTES ((Py_ssize_t)sizeof(mp_limb_t))
#define LIMB_BITS (8 * (Py_ssize_t)sizeof(mp_limb_t))
#define MAX_MODULUS_BITS 16384
/* The chain of a variable base keeps one power per bit of its largest exponent, for WAYS
 * bases at a time: at most 3 · 16384 values (15 MB for a 2048-bit modulus). */
#define MAX_EXPONENT_BITS 16384
#define TABLE_MAX_BITS 4096

static PyObject *mpz_type = NULL; /* gmpy2.mpz */
static PyObject *mpz_one = NULL;  /* gmpy2.mpz(1): every result 1 (memberships x^q) */

/* ------------------------------------------------------------------ int <-> bytes */

/* Bit length of a non-negative PyLong (v must be an exact int). */
static int
long_bits(PyObject *v, Py_ssize_t *bits)
{
    size_t nb = _PyLong_NumBits(v); /* (size_t)-1 with OverflowError: far above any limit */
    if (nb == (size_t)-1 && PyErr_Occurred())
        return -1;
    *bits = (Py_ssize_t)nb;
    return 0;
}

/* Writes the non-negative int v into buf (nbytes, little-endian). v fits (checked). */
static int
long_to_le_bytes(PyObject *v, unsigned char *buf, Py_ssize_t nbytes)
{
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t r = PyLong_AsNativeBytes(
        v, buf, nbytes,
        Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
            Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (r < 0)
        return -1;
    if (r > nbytes) {
        PyErr_SetString(PyExc_OverflowError, "number too large");
        return -1;
    }
    return 0;
#else
    return _PyLong_AsByteArray((PyLongObject *)v, buf, (size_t)nbytes, 1, 0);
#endif
}

static PyObject *
le_bytes_to_long(const unsigned char *buf, Py_ssize_t nbytes)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(buf, nbytes, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(buf, (size_t)nbytes, 1, 0);
#endif
}

/* A new reference to the exact int of obj (via __index__), refusing negative values.
 * *bits receives its bit length. */
static PyObject *
as_natural(PyObject *obj, const char *what, Py_ssize_t *bits)
{
    PyObject *v = PyNumber_Index(obj);
    if (v == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s", what,
                         Py_TYPE(obj)->tp_name);
        }
        return NULL;
    }
    if (_PyLong_Sign(v) < 0) {
        PyErr_Format(PyExc_ValueError, "negative %s", what);
        Py_DECREF(v);
        return NULL;
    }
    if (long_bits(v, bits) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* gmpy2's mpz object, read (never written, never freed: gmpy2 has its own GMP) where its
 * limbs are: the layout of gmpy2's MPZ_Object, PyObject_HEAD then an mpz_t, whose fields
 * are GMP's public struct. mpz_view_ok is set at import only once reading mpz objects of
 * known values gives those values (check_mpz_view); else every number goes through
 * __index__ (a Python int), as it does for any type other than exactly gmpy2.mpz. */
typedef struct {
    PyObject_HEAD
    __mpz_struct z;
} MpzView;
static int mpz_view_ok = 0;

/* 1 and the signed limb count and limbs of obj when it is exactly a gmpy2.mpz (read in
 * place), else 0. */
static inline int
mpz_view(PyObject *obj, mp_size_t *size, const mp_limb_t **d)
{
    if (!mpz_view_ok || Py_TYPE(obj) != (PyTypeObject *)mpz_type)
        return 0;
    const __mpz_struct *z = &((const MpzView *)obj)->z;
    *size = z->_mp_size;
    *d = z->_mp_d;
    return 1;
}

/* Bit length of the natural number {d, size} (size > 0, d[size - 1] != 0). */
static inline Py_ssize_t
limbs_bits(const mp_limb_t *d, mp_size_t size)
{
    return (Py_ssize_t)(size - 1) * LIMB_BITS + (LIMB_BITS - __builtin_clzll(d[size - 1]));
}

/* mpz_view_ok: whether mpz(0), mpz(5 + 3·2^64) and mpz(-(9 + 2^64)) read as themselves
 * (and gmpy2.mpz objects are large enough for the view). 0 with an exception only when a
 * value cannot be made. */
static int
check_mpz_view(void)
{
    static const char *texts[3] = {"0", "55340232221128654853", "-18446744073709551625"};
    static const mp_limb_t limbs[3][2] = {{0, 0}, {5, 3}, {9, 1}};
    static const mp_size_t sizes[3] = {0, 2, -2};
    mpz_view_ok = sizeof(mp_limb_t) == 8 &&
                  ((PyTypeObject *)mpz_type)->tp_basicsize >= (Py_ssize_t)sizeof(MpzView);
    for (int i = 0; i < 3 && mpz_view_ok; i++) {
        PyObject *z = PyObject_CallFunction(mpz_type, "s", texts[i]);
        if (z == NULL)
            return -1;
        mp_size_t size;
        const mp_limb_t *d;
        int ok = mpz_view(z, &size, &d) && size == sizes[i];
        for (mp_size_t j = 0; ok && j < (size < 0 ? -size : size); j++)
            ok = d[j] == limbs[i][j];
        Py_DECREF(z);
        mpz_view_ok = ok;
    }
    return 0;
}

static void
bytes_to_limbs(mp_limb_t *out, const unsigned char *buf, mp_size_t n)
{
    for (mp_size_t i = 0; i < n; i++) {
        mp_limb_t x = 0;
        for (Py_ssize_t j = LIMB_BYTES - 1; j >= 0; j--)
            x = (x << 8) | buf[i * LIMB_BYTES + j];
        out[i] = x;
    }
}

static void
limbs_to_bytes(unsigned char *buf, const mp_limb_t *x, mp_size_t n)
{
    for (mp_size_t i = 0; i < n; i++) {
        mp_limb_t v = x[i];
        for (Py_ssize_t j = 0; j < LIMB_BYTES; j++) {
            buf[i * LIMB_BYTES + j] = (unsigned char)(v & 0xff);
            v >>= 8;
        }
    }
}

/* An exponent: its little-endian bytes (at least one) and bit length. */
typedef struct {
    unsigned char *bytes;
    Py_ssize_t nbytes;
    Py_ssize_t bits;
} Exponent;

static int
read_exponent(PyObject *obj, Py_ssize_t max_bits, Exponent *e)
{
    Py_ssize_t bits;
    mp_size_t size;
    const mp_limb_t *d;
    if (mpz_view(obj, &size, &d)) { /* the same checks and bytes, without a Python int */
        if (size < 0) {
            PyErr_SetString(PyExc_ValueError, "negative exponent");
            return -1;
        }
        bits = size ? limbs_bits(d, size) : 0;
        if (bits > max_bits) {
            PyErr_Format(PyExc_ValueError, "exponent of %zd bits; at most %zd here", bits,
                         max_bits);
            return -1;
        }
        e->bits = bits;
        e->nbytes = bits ? (bits + 7) / 8 : 1;
        e->bytes = PyMem_Malloc((size_t)e->nbytes);
        if (e->bytes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        e->bytes[0] = 0;
        for (Py_ssize_t i = 0; i < (bits + 7) / 8; i++)
            e->bytes[i] = (unsigned char)(d[i / LIMB_BYTES] >> (8 * (i % LIMB_BYTES)));
        return 0;
    }
    PyObject *v = as_natural(obj, "exponent", &bits);
    if (v == NULL)
        return -1;
    if (bits > max_bits) {
        Py_DECREF(v);
        PyErr_Format(PyExc_ValueError, "exponent of %zd bits; at most %zd here", bits, max_bits);
        return -1;
    }
    e->bits = bits;
    e->nbytes = bits ? (bits + 7) / 8 : 1;
    e->bytes = PyMem_Malloc((size_t)e->nbytes);
    if (e->bytes == NULL) {
        Py_DECREF(v);
        PyErr_NoMemory();
        return -1;
    }
    int r = long_to_le_bytes(v, e->bytes, e->nbytes);
    Py_DECREF(v);
    if (r < 0) {
        PyMem_Free(e->bytes);
        e->bytes = NULL;
        return -1;
    }
    return 0;
}

/* w bits of e starting at bit offset (w <= 8; bits above the exponent are 0). */
static inline unsigned
exp_bits(const Exponent *e, Py_ssize_t offset, int w)
{
    Py_ssize_t byte = offset >> 3;
    if (byte >= e->nbytes)
        return 0;
    unsigned v = e->bytes[byte];
    if (byte + 1 < e->nbytes)
        v |= (unsigned)e->bytes[byte + 1] << 8;
    return (v >> (offset & 7)) & ((1u << w) - 1);
}

/* ------------------------------------------------------------------ Montgomery core */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_IFMA 1
#include <immintrin.h>
#endif
/* The AVX-512 IFMA kernel: 40 limbs of 52 bits, R = 2^2080, moduli up to 2078 bits. */
#define IFMA_L 40
#define IFMA_MAX_BITS 2078
#define MASK52 ((((uint64_t)1) << 52) - 1)
static int cpu_has_ifma = 0;
/* The IFMA variant that "auto" and "ifma" take: 0 "zen4" (amm52_n, ams52_n), 1 "intel"
 * (amm52v_n for every product); a guess by vendor at import (fastexp.py measures). */
static int ifma_default_vq = 0;

typedef struct {
    PyObject_HEAD
    mp_size_t n;     /* limbs of p */
    mp_size_t es;    /* limbs of a value in Montgomery form (n, or IFMA_L) */
    mp_size_t ts;    /* limbs of the scratch of one product */
    int ifma;        /* 1: the AVX-512 IFMA kernel (radix 2^52), 0: GMP's mpn */
    int vq;          /* with ifma: 1 its "intel" variant (amm52v_n), 0 its "zen4" one */
    uint64_t p52[IFMA_L]; /* p in radix 2^52 (ifma) */
    uint64_t k0;     /* -p^-1 mod 2^52 (ifma) */
    mp_limb_t *p;    /* n limbs, odd, top limb non-zero */
    mp_limb_t ninv;  /* -p^-1 mod 2^LIMB_BITS */
    mp_limb_t *r2;   /* R^2 mod p */
    mp_limb_t *one;  /* R mod p: 1 in Montgomery form */
    PyObject *value; /* p as an int */
    Py_ssize_t bits; /* bit length of p */
} ModulusObject;

/* r = t / R mod p, t of 2n limbs (destroyed); r may not overlap t. */
static void
redc(const ModulusObject *m, mp_limb_t *r, mp_limb_t *t)
{
    const mp_size_t n = m->n;
    for (mp_size_t i = 0; i < n; i++) {
        mp_limb_t q = t[i] * m->ninv;
        /* t[i] becomes 0; keep the carry, due at limb i + n, in its place */
        t[i] = mpn_addmul_1(t + i, m->p, n, q);
    }
    mp_limb_t cy = mpn_add_n(r, t + n, t, n);
    if (cy || mpn_cmp(r, m->p, n) >= 0)
        mpn_sub_n(r, r, m->p, n);
}

#ifdef HAVE_IFMA
/* r = the accumulator R (5 vectors of 8 limbs of up to 64 bits) with its carries
 * propagated: limbs of 52 bits (the last step of every IFMA kernel below). */
__attribute__((target("avx512f,avx512ifma"), always_inline)) static inline void
ifma_store(const __m512i R[5], uint64_t *r)
{
    uint64_t t[IFMA_L];
#pragma GCC unroll 5
    for (int v = 0; v < 5; v++)
        _mm512_storeu_si512(t + 8 * v, R[v]);
    uint64_t cy = 0;
    for (int j = 0; j < IFMA_L; j++) {
        uint64_t w = t[j] + cy;
        r[j] = w & MASK52;
        cy = w >> 52;
    }
}

/* Almost Montgomery multiplication in radix 2^52 with AVX-512 IFMA, of N = 1 to 4
 * independent products at once: r[h] = a[h]·b[h] / 2^2080 mod p, for a, b < 2p with limbs
 * below 2^52; r < 2p, limbs below 2^52 (4p < 2^2080). Each step adds a·b_i and m·p (m making
 * the low limb vanish) into 40 lanes of 64 bits and shifts one lane down; lanes hold at most
 * 160·2^52 < 2^64 before the final carry propagation. The steps of one product wait on each
 * other (the next quotient needs the last multiply-add): interleaving independent products
 * fills the multipliers. r[h] may alias a[h] or b[h] (written at the end only). */
__attribute__((target("avx512f,avx512ifma"), always_inline)) static inline void
amm52_n(const ModulusObject *m, const int N, uint64_t *const *r, const uint64_t *const *a,
        const uint64_t *const *b)
{
    const uint64_t *p = m->p52;
    __m512i P[5], A[4][5], R[4][5];
    const __m512i z = _mm512_setzero_si512();
    const uint64_t k0 = m->k0, p0 = p[0];
#pragma GCC unroll 5
    for (int v = 0; v < 5; v++)
        P[v] = _mm512_loadu_si512(p + 8 * v);
#pragma GCC unroll 4
    for (int h = 0; h < N; h++)
#pragma GCC unroll 5
        for (int v = 0; v < 5; v++) {
            A[h][v] = _mm512_loadu_si512(a[h] + 8 * v);
            R[h][v] = z;
        }
    for (int i = 0; i < IFMA_L; i++) {
        __m512i bv[4], qv[4];
        uint64_t carry[4];
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            bv[h] = _mm512_set1_epi64((long long)b[h][i]);
            R[h][0] = _mm512_madd52lo_epu64(R[h][0], A[h][0], bv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            uint64_t x0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(R[h][0]));
#pragma GCC unroll 4
            for (int v = 1; v < 5; v++)
                R[h][v] = _mm512_madd52lo_epu64(R[h][v], A[h][v], bv[h]);
            uint64_t q = (x0 * k0) & MASK52;
            carry[h] = (x0 + ((q * p0) & MASK52)) >> 52;
            qv[h] = _mm512_set1_epi64((long long)q);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++)
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52lo_epu64(R[h][v], P[v], qv[h]);
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                R[h][v] = _mm512_alignr_epi64(R[h][v + 1], R[h][v], 1);
            R[h][4] = _mm512_alignr_epi64(z, R[h][4], 1);
            R[h][0] = _mm512_mask_add_epi64(R[h][0], 1, R[h][0],
                                            _mm512_set1_epi64((long long)carry[h]));
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52hi_epu64(R[h][v], A[h][v], bv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++)
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52hi_epu64(R[h][v], P[v], qv[h]);
    }
#pragma GCC unroll 4
    for (int h = 0; h < N; h++)
        ifma_store(R[h], r[h]);
}

/* r[h] = a[h]·b[h] / R mod p for h < k (1 <= k <= 4), in one pass. */
__attribute__((target("avx512f,avx512ifma"))) static void
amm52_k(const ModulusObject *m, int k, uint64_t *const *r, const uint64_t *const *a,
        const uint64_t *const *b)
{
    switch (k) {
    case 1:
        amm52_n(m, 1, r, a, b);
        break;
    case 2:
        amm52_n(m, 2, r, a, b);
        break;
    case 3:
        amm52_n(m, 3, r, a, b);
        break;
    default:
        amm52_n(m, 4, r, a, b);
        break;
    }
}

/* r = a·b / R mod p (one product). */
__attribute__((target("avx512f,avx512ifma"))) static void
amm52(const ModulusObject *m, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    uint64_t *rs[1] = {r};
    const uint64_t *as[1] = {a}, *bs[1] = {b};
    amm52_n(m, 1, rs, as, bs);
}

/* Almost Montgomery squaring in radix 2^52, of N = 1 to 4 independent values at once:
 * r[h] = a[h]^2 / 2^2080 mod p, with the bounds of amm52 (a < 2p, r < 2p). The same steps
 * as amm52 with b = a, but each cross product a_i·a_j (i < j) is computed once, at step i,
 * and counted twice, and the squares a_i^2 are placed before the first step:
 *  - the accumulator starts as the diagonal sum_k a_k^2·2^(104k) (positions 0..39 in the
 *    lanes, positions 40..79 shifted in as the lanes move down);
 *  - step i adds a_j·(2·a_i) for the lanes j > i only (vectors wholly below i are skipped:
 *    115 of the 200 vector steps of the product remain). 2·a_i has 53 bits and IFMA reads
 *    52, so it is written L_i + T_i·2^52 (L_i = 2·a_i mod 2^52, even; T_i = bit 51 of a_i).
 *    The term T_i·a_j·2^(52(i+j+1)) belongs to step i+1: its lanes j > i+1 take it in that
 *    step's multiplier L_(i+1) + T_i (still below 2^52, L being even) and its lane j = i+1,
 *    a_(i+1)·T_i at position 2i+2, goes into the diagonal;
 *  - the products of step i never reach lane 0 (j > i), so the quotient of step i is known
 *    at its start.
 * Lanes stay below 2^62 (at most five terms below 2^52 per step and lane, 40 steps). */
__attribute__((target("avx512f,avx512ifma"), always_inline)) static inline void
ams52_n(const ModulusObject *m, const int N, uint64_t *const *r, const uint64_t *const *a)
{
    const uint64_t *p = m->p52;
    __m512i P[5], A[4][5], R[4][5];
    uint64_t diag[4][2 * IFMA_L];
    const uint64_t k0 = m->k0, p0 = p[0];
#pragma GCC unroll 5
    for (int v = 0; v < 5; v++)
        P[v] = _mm512_loadu_si512(p + 8 * v);
#pragma GCC unroll 4
    for (int h = 0; h < N; h++) {
        for (int k = 0; k < IFMA_L; k++) {
            unsigned __int128 s = (unsigned __int128)a[h][k] * a[h][k];
            diag[h][2 * k] = (uint64_t)s & MASK52;
            diag[h][2 * k + 1] = (uint64_t)(s >> 52);
            /* a_k·T_(k-1) at position 2k (see the multiplier of step k below) */
            if (k > 0)
                diag[h][2 * k] += a[h][k] & ((uint64_t)0 - (a[h][k - 1] >> 51));
        }
#pragma GCC unroll 5
        for (int v = 0; v < 5; v++) {
            A[h][v] = _mm512_loadu_si512(a[h] + 8 * v);
            R[h][v] = _mm512_loadu_si512(diag[h] + 8 * v);
        }
    }
    for (int i = 0; i < IFMA_L; i++) {
        /* vectors v > i / 8 hold only lanes j > i; vector i / 8 holds some (none when i is
         * its last lane): its copy AM has the lanes j <= i zeroed */
        const int vp = i / 8;
        const __mmask8 kp = (__mmask8)(0xFFu << (i - 8 * vp + 1));
        __m512i qv[4], Lv[4], AM[4];
        uint64_t carry[4];
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            uint64_t x0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(R[h][0]));
            uint64_t q = (x0 * k0) & MASK52;
            carry[h] = (x0 + ((q * p0) & MASK52)) >> 52;
            qv[h] = _mm512_set1_epi64((long long)q);
            /* L_i + T_(i-1): even plus 0 or 1, below 2^52 */
            uint64_t mi = ((a[h][i] << 1) & MASK52) + (i > 0 ? a[h][i - 1] >> 51 : 0);
            Lv[h] = _mm512_set1_epi64((long long)mi);
            AM[h] = _mm512_maskz_mov_epi64(kp, _mm512_loadu_si512(a[h] + 8 * vp));
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                if (v >= vp)
                    R[h][v] = _mm512_madd52lo_epu64(R[h][v], v == vp ? AM[h] : A[h][v], Lv[h]);
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52lo_epu64(R[h][v], P[v], qv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            /* position i + 40 enters the top lane */
            __m512i in = _mm512_set1_epi64((long long)diag[h][i + IFMA_L]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                R[h][v] = _mm512_alignr_epi64(R[h][v + 1], R[h][v], 1);
            R[h][4] = _mm512_alignr_epi64(in, R[h][4], 1);
            R[h][0] = _mm512_mask_add_epi64(R[h][0], 1, R[h][0],
                                            _mm512_set1_epi64((long long)carry[h]));
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                if (v >= vp)
                    R[h][v] = _mm512_madd52hi_epu64(R[h][v], v == vp ? AM[h] : A[h][v], Lv[h]);
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52hi_epu64(R[h][v], P[v], qv[h]);
        }
    }
#pragma GCC unroll 4
    for (int h = 0; h < N; h++)
        ifma_store(R[h], r[h]);
}

/* r = a^2 / R mod p (one value; as amm52(m, r, a, a)). */
__attribute__((target("avx512f,avx512ifma"))) static void
ams52(const ModulusObject *m, uint64_t *r, const uint64_t *a)
{
    uint64_t *rs[1] = {r};
    const uint64_t *as[1] = {a};
    ams52_n(m, 1, rs, as);
}

/* r[h] = a[h]^2 / R mod p for h < k (1 <= k <= 4), in one pass. */
__attribute__((target("avx512f,avx512ifma"))) static void
ams52_k(const ModulusObject *m, int k, uint64_t *const *r, const uint64_t *const *a)
{
    switch (k) {
    case 1:
        ams52_n(m, 1, r, a);
        break;
    case 2:
        ams52_n(m, 2, r, a);
        break;
    case 3:
        ams52_n(m, 3, r, a);
        break;
    default:
        ams52_n(m, 4, r, a);
        break;
    }
}

/* The "intel" variant of amm52_n (measured on an Intel Xeon with AVX-512 IFMA, 2026-12-05):
 * the same sums, limb for limb the same results, for CPUs that run two 512-bit multiply-adds
 * per cycle. There the multiply-adds are no longer the limit: the other vector operations
 * on the same two ports and the chain of each step are. So:
 *  - the quotient is computed in the vector unit: q = x0·k0 mod 2^52 by one multiply-add on
 *    x0 broadcast from lane 0 (x0 mod 2^52 is all q depends on), instead of a move to a
 *    general register, a scalar multiply and a broadcast back;
 *  - the carry of the vanishing low limb is R0 >> 52, added into lane 0 after the shift
 *    (the shift moves lane 1 into lane 0; the carry of old lane 0 stays in lane 0);
 *  - A is read from memory at each multiply-add (the load ports are free), so that R and P
 *    alone hold registers and three products run without spilling;
 *  - squarings use it too: the dedicated squaring kernel (ams52_n) saves multiply-adds
 *    but adds other operations on the same ports, and is slower there.
 * r[h] may alias a[h] or b[h] (written at the end only). */
__attribute__((target("avx512f,avx512ifma"), always_inline)) static inline void
amm52v_n(const ModulusObject *m, const int N, uint64_t *const *r, const uint64_t *const *a,
         const uint64_t *const *b)
{
    const uint64_t *p = m->p52;
    __m512i P[5], R[4][5];
    const __m512i z = _mm512_setzero_si512();
    const __m512i K0 = _mm512_set1_epi64((long long)m->k0);
    const uint64_t *ap[4];
#pragma GCC unroll 5
    for (int v = 0; v < 5; v++)
        P[v] = _mm512_loadu_si512(p + 8 * v);
#pragma GCC unroll 4
    for (int h = 0; h < N; h++) {
        ap[h] = a[h];
#pragma GCC unroll 5
        for (int v = 0; v < 5; v++)
            R[h][v] = z;
    }
    for (int i = 0; i < IFMA_L; i++) {
        __m512i bv[4], qv[4];
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            /* an opaque pointer: the compiler may not keep A's vectors in registers */
            __asm__("" : "+r"(ap[h]));
            bv[h] = _mm512_set1_epi64((long long)b[h][i]);
            R[h][0] = _mm512_madd52lo_epu64(R[h][0], _mm512_loadu_si512(ap[h]), bv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            __m512i x0 = _mm512_broadcastq_epi64(_mm512_castsi512_si128(R[h][0]));
            qv[h] = _mm512_madd52lo_epu64(z, x0, K0);
#pragma GCC unroll 4
            for (int v = 1; v < 5; v++)
                R[h][v] = _mm512_madd52lo_epu64(R[h][v], _mm512_loadu_si512(ap[h] + 8 * v), bv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++)
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52lo_epu64(R[h][v], P[v], qv[h]);
#pragma GCC unroll 4
        for (int h = 0; h < N; h++) {
            __m512i c = _mm512_srli_epi64(R[h][0], 52);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                R[h][v] = _mm512_alignr_epi64(R[h][v + 1], R[h][v], 1);
            R[h][4] = _mm512_alignr_epi64(z, R[h][4], 1);
            R[h][0] = _mm512_mask_add_epi64(R[h][0], 1, R[h][0], c);
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52hi_epu64(R[h][v], _mm512_loadu_si512(ap[h] + 8 * v), bv[h]);
        }
#pragma GCC unroll 4
        for (int h = 0; h < N; h++)
#pragma GCC unroll 5
            for (int v = 0; v < 5; v++)
                R[h][v] = _mm512_madd52hi_epu64(R[h][v], P[v], qv[h]);
    }
#pragma GCC unroll 4
    for (int h = 0; h < N; h++)
        ifma_store(R[h], r[h]);
}

/* r[h] = a[h]·b[h] / R mod p for h < k (1 <= k <= 4), in one pass ("intel" variant). */
__attribute__((target("avx512f,avx512ifma"))) static void
amm52v_k(const ModulusObject *m, int k, uint64_t *const *r, const uint64_t *const *a,
         const uint64_t *const *b)
{
    switch (k) {
    case 1:
        amm52v_n(m, 1, r, a, b);
        break;
    case 2:
        amm52v_n(m, 2, r, a, b);
        break;
    case 3:
        amm52v_n(m, 3, r, a, b);
        break;
    default:
        amm52v_n(m, 4, r, a, b);
        break;
    }
}

/* r = a·b / R mod p (one product, "intel" variant; squarings too). */
__attribute__((target("avx512f,avx512ifma"))) static void
amm52v(const ModulusObject *m, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    uint64_t *rs[1] = {r};
    const uint64_t *as[1] = {a}, *bs[1] = {b};
    amm52v_n(m, 1, rs, as, bs);
}

#endif

/* n 64-bit limbs -> IFMA_L limbs of 52 bits (the value fits) */
static void
limbs_to_52(uint64_t *o, const mp_limb_t *x, mp_size_t n)
{
    for (Py_ssize_t j = 0; j < IFMA_L; j++) {
        Py_ssize_t bit = 52 * j, w = bit / 64, s = bit % 64;
        uint64_t v = w < n ? (uint64_t)x[w] >> s : 0;
        if (s > 12 && w + 1 < n)
            v |= (uint64_t)x[w + 1] << (64 - s);
        o[j] = v & MASK52;
    }
}

/* IFMA_L limbs of 52 bits -> n 64-bit limbs (the value fits in n limbs) */
static void
limbs_from_52(mp_limb_t *x, const uint64_t *o, mp_size_t n)
{
    memset(x, 0, (size_t)n * sizeof(mp_limb_t));
    for (Py_ssize_t j = 0; j < IFMA_L; j++) {
        Py_ssize_t bit = 52 * j, w = bit / 64, s = bit % 64;
        if (w < n)
            x[w] |= (mp_limb_t)(o[j] << s);
        if (s > 12 && w + 1 < n)
            x[w + 1] |= (mp_limb_t)(o[j] >> (64 - s));
    }
}

/* r = a·b / R mod p (Montgomery form); t is scratch of m->ts limbs; r may alias a or b. */
static inline void
mont_mul(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
         mp_limb_t *t)
{
#ifdef HAVE_IFMA
    if (m->ifma && m->vq) {
        amm52v(m, (uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b);
        return;
    }
    if (m->ifma) {
        if (a == b)
            ams52(m, (uint64_t *)r, (const uint64_t *)a);
        else
            amm52(m, (uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b);
        return;
    }
#endif
    if (a == b)
        mpn_sqr(t, a, m->n);
    else
        mpn_mul_n(t, a, b, m->n);
    redc(m, r, t);
}

/* r (Montgomery form) of x (normal form, n limbs, below p) */
static void
to_mont(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *x, mp_limb_t *t)
{
    if (m->ifma) {
        limbs_to_52((uint64_t *)t, x, m->n);
        mont_mul(m, r, t, m->r2, t + IFMA_L);
        return;
    }
    mont_mul(m, r, x, m->r2, t);
}

/* r (normal form, n limbs, below p) of x (Montgomery form) */
static void
from_mont(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *x, mp_limb_t *t)
{
    if (m->ifma) {
        memset(t, 0, IFMA_L * sizeof(mp_limb_t));
        t[0] = 1;
        mont_mul(m, t + IFMA_L, x, t, NULL); /* x/R: at most p, and p only for 0 */
        limbs_from_52(r, (const uint64_t *)(t + IFMA_L), m->n);
        if (mpn_cmp(r, m->p, m->n) >= 0)
            mpn_sub_n(r, r, m->p, m->n);
        return;
    }
    memcpy(t, x, (size_t)m->n * sizeof(mp_limb_t));
    memset(t + m->n, 0, (size_t)m->n * sizeof(mp_limb_t));
    redc(m, r, t);
}

/* Reads a residue 0 <= obj < p into n limbs (normal form). */
static int
read_residue(const ModulusObject *m, PyObject *obj, const char *what, mp_limb_t *out)
{
    Py_ssize_t bits;
    mp_size_t size;
    const mp_limb_t *d;
    if (mpz_view(obj, &size, &d)) { /* the same checks and limbs, without a Python int */
        if (size < 0) {
            PyErr_Format(PyExc_ValueError, "negative %s", what);
            return -1;
        }
        if (size > m->n || (size == m->n && mpn_cmp(d, m->p, m->n) >= 0)) {
            PyErr_Format(PyExc_ValueError, "%s out of range: must be below the modulus", what);
            return -1;
        }
        if (size)
            memcpy(out, d, (size_t)size * sizeof(mp_limb_t));
        memset(out + size, 0, (size_t)(m->n - size) * sizeof(mp_limb_t));
        return 0;
    }
    PyObject *v = as_natural(obj, what, &bits);
    if (v == NULL)
        return -1;
    int too_big = bits > m->n * LIMB_BITS;
    if (!too_big) {
        too_big = PyObject_RichCompareBool(v, m->value, Py_GE);
        if (too_big < 0) {
            Py_DECREF(v);
            return -1;
        }
    }
    if (too_big) {
        Py_DECREF(v);
        PyErr_Format(PyExc_ValueError, "%s out of range: must be below the modulus", what);
        return -1;
    }
    Py_ssize_t nbytes = m->n * LIMB_BYTES;
    unsigned char *buf = PyMem_Malloc((size_t)nbytes);
    if (buf == NULL) {
        Py_DECREF(v);
        PyErr_NoMemory();
        return -1;
    }
    int r = long_to_le_bytes(v, buf, nbytes);
    Py_DECREF(v);
    if (r == 0)
        bytes_to_limbs(out, buf, m->n);
    PyMem_Free(buf);
    return r;
}

/* A gmpy2.mpz of the n-limb normal-form value x (1 is one shared object: mpz are
 * immutable). */
static PyObject *
residue_to_mpz(const ModulusObject *m, const mp_limb_t *x)
{
    if (x[0] == 1 && (m->n == 1 || mpn_zero_p(x + 1, m->n - 1))) {
        Py_INCREF(mpz_one);
        return mpz_one;
    }
    Py_ssize_t nbytes = m->n * LIMB_BYTES;
    unsigned char *buf = PyMem_Malloc((size_t)nbytes);
    if (buf == NULL)
        return PyErr_NoMemory();
    limbs_to_bytes(buf, x, m->n);
    PyObject *v = le_bytes_to_long(buf, nbytes);
    PyMem_Free(buf);
    if (v == NULL)
        return NULL;
    PyObject *z = PyObject_CallOneArg(mpz_type, v);
    Py_DECREF(v);
    return z;
}

/* Digits a decimal text of an n-limb value can take (64 bits hold at most 19.3 digits). */
#define TEXT_SIZE(n) ((Py_ssize_t)(n) * 20 + 1)

/* The decimal digits (ASCII, no leading zero; "0" for 0) of the n-limb normal-form value
 * x into text (TEXT_SIZE(n) bytes); returns their count. w is scratch of n + 1 limbs
 * (mpn_get_str clobbers its input). Needs no Python object: runs without the GIL. */
static Py_ssize_t
residue_digits(mp_size_t n, const mp_limb_t *x, unsigned char *text, mp_limb_t *w)
{
    while (n > 0 && x[n - 1] == 0)
        n--;
    if (n == 0) {
        text[0] = '0';
        return 1;
    }
    memcpy(w, x, (size_t)n * sizeof(mp_limb_t));
    w[n] = 0;
    size_t len = mpn_get_str(text, 10, w, n), lead = 0;
    while (lead + 1 < len && text[lead] == 0) /* mpn_get_str may write leading zeros */
        lead++;
    for (size_t i = lead; i < len; i++)
        text[i - lead] = (unsigned char)('0' + text[i]);
    return (Py_ssize_t)(len - lead);
}

/* ------------------------------------------------------------------ Modulus */

static PyTypeObject ModulusType;
static PyTypeObject TableType;

static void
Modulus_dealloc(ModulusObject *self)
{
    PyMem_Free(self->p); /* p, r2 and one share one block */
    Py_XDECREF(self->value);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Modulus_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"modulus", "kernel", NULL};
    PyObject *obj;
    const char *kernel = "auto";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|s:Modulus", kwlist, &obj, &kernel))
        return NULL;
    int ifma, vq = ifma_default_vq;
    if (strcmp(kernel, "mpn") == 0)
        ifma = 0;
    else if (strcmp(kernel, "ifma") == 0 || strcmp(kernel, "auto") == 0)
        ifma = 1;
    else if (strcmp(kernel, "ifma-zen4") == 0 || strcmp(kernel, "ifma-intel") == 0) {
        ifma = 1;
        vq = kernel[5] == 'i';
        kernel = "ifma";
    }
    else {
        PyErr_SetString(PyExc_ValueError,
                        "kernel must be 'auto', 'mpn', 'ifma', 'ifma-zen4' or 'ifma-intel'");
        return NULL;
    }
    Py_ssize_t bits;
    PyObject *v = as_natural(obj, "modulus", &bits);
    if (v == NULL)
        return NULL;
    if (bits < 2 || bits > MAX_MODULUS_BITS) {
        Py_DECREF(v);
        PyErr_Format(PyExc_ValueError, "modulus must have 2 to %d bits", MAX_MODULUS_BITS);
        return NULL;
    }
    int ifma_fits = cpu_has_ifma && bits <= IFMA_MAX_BITS;
    if (ifma && strcmp(kernel, "ifma") == 0 && !ifma_fits) {
        Py_DECREF(v);
        PyErr_Format(PyExc_ValueError,
                     cpu_has_ifma ? "the ifma kernel takes moduli of at most %d bits"
                                  : "this CPU (or build) has no AVX-512 IFMA (moduli up to %d bits)",
                     IFMA_MAX_BITS);
        return NULL;
    }
    /* auto: IFMA for the 2048-bit groups (and anything above 1024 bits it takes) */
    if (strcmp(kernel, "auto") == 0)
        ifma = ifma_fits && bits > 1024;
    mp_size_t n = (mp_size_t)((bits + LIMB_BITS - 1) / LIMB_BITS);
    mp_size_t es = ifma ? IFMA_L : n;
    mp_size_t ts = 2 * n > 2 * IFMA_L ? 2 * n : 2 * IFMA_L;
    /* R^2 mod p, R = 2^(bits of one Montgomery value) */
    mp_size_t rlimbs = ifma ? (2 * 52 * IFMA_L) / LIMB_BITS : 2 * n; /* 2^(64·rlimbs) = R^2 */
    unsigned char *buf = PyMem_Malloc((size_t)(n * LIMB_BYTES));
    mp_limb_t *mem = PyMem_Calloc((size_t)(n + 2 * es), sizeof(mp_limb_t));
    mp_limb_t *num = PyMem_Calloc((size_t)(2 * rlimbs + n + 4), sizeof(mp_limb_t));
    mp_limb_t *t = PyMem_Calloc((size_t)ts, sizeof(mp_limb_t));
    if (buf == NULL || mem == NULL || num == NULL || t == NULL) {
        PyMem_Free(buf);
        PyMem_Free(mem);
        PyMem_Free(num);
        PyMem_Free(t);
        Py_DECREF(v);
        return PyErr_NoMemory();
    }
    mp_limb_t *p = mem, *r2 = mem + n, *one = mem + n + es;
    int r = long_to_le_bytes(v, buf, n * LIMB_BYTES);
    if (r == 0)
        bytes_to_limbs(p, buf, n);
    PyMem_Free(buf);
    if (r == 0 && (p[0] & 1) == 0) {
        PyErr_SetString(PyExc_ValueError, "modulus must be odd");
        r = -1;
    }
    ModulusObject *self = r == 0 ? (ModulusObject *)type->tp_alloc(type, 0) : NULL;
    if (self == NULL) {
        PyMem_Free(mem);
        PyMem_Free(num);
        PyMem_Free(t);
        Py_DECREF(v);
        return NULL;
    }
    /* -p^-1 mod 2^LIMB_BITS by Newton's iteration (each step doubles the correct bits) */
    mp_limb_t inv = p[0]; /* correct to 3 bits: p·p = 1 mod 8 for odd p */
    for (int i = 0; i < 7; i++)
        inv *= 2 - p[0] * inv;
    self->n = n;
    self->es = es;
    self->ts = ts;
    self->ifma = ifma;
    self->vq = ifma && vq;
    self->p = p;
    self->r2 = r2;
    self->one = one;
    self->ninv = (mp_limb_t)0 - inv;
    self->k0 = ((uint64_t)0 - (uint64_t)inv) & MASK52;
    self->value = v;
    self->bits = bits;
    /* R^2 mod p: the remainder of 2^(LIMB_BITS·rlimbs) by p */
    num[rlimbs] = 1;
    mp_limb_t *rem = num + rlimbs + 1, *quot = rem + n;
    mpn_tdiv_qr(quot, rem, 0, num, rlimbs + 1, p, n);
    (void)quot;
    if (ifma) {
        limbs_to_52(self->p52, p, n);
        limbs_to_52((uint64_t *)r2, rem, n);
        /* 1 in Montgomery form: R mod p = AMM(R^2, 1) */
        mp_limb_t *onev = t;
        memset(onev, 0, (size_t)ts * sizeof(mp_limb_t));
        onev[0] = 1;
        mont_mul(self, one, r2, onev, NULL);
    }
    else {
        memcpy(r2, rem, (size_t)n * sizeof(mp_limb_t));
        from_mont(self, one, r2, t); /* R mod p = REDC(R^2) */
    }
    PyMem_Free(num);
    PyMem_Free(t);
    return (PyObject *)self;
}

static PyObject *
Modulus_repr(ModulusObject *self)
{
    return PyUnicode_FromFormat("Modulus(bits=%zd, kernel=%s)", self->bits,
                                !self->ifma ? "mpn" : self->vq ? "ifma-intel" : "ifma-zen4");
}

static PyObject *
Modulus_get_value(ModulusObject *self, void *closure)
{
    (void)closure;
    Py_INCREF(self->value);
    return self->value;
}

/* The window of the bucket method for exponents of `bits` bits: the w minimising
 * bits/(w+1) window products (sliding windows) + 2^w bucket products (2^(w-1) odd buckets). */
static int
bucket_window(Py_ssize_t bits)
{
    int best = 1;
    double best_cost = 1e300;
    for (int w = 1; w <= 8; w++) {
        double cost = (double)bits / (double)(w + 1) + (double)(1 << w);
        if (cost < best_cost) {
            best_cost = cost;
            best = w;
        }
    }
    return best;
}

static void
free_exponents(Exponent *exps, Py_ssize_t k)
{
    if (exps == NULL)
        return;
    for (Py_ssize_t i = 0; i < k; i++)
        PyMem_Free(exps[i].bytes);
    PyMem_Free(exps);
}

/* Reads a sequence of exponents; *k receives the count. */
static Exponent *
read_exponents(PyObject *seq_obj, Py_ssize_t max_bits, Py_ssize_t *k, Py_ssize_t *top_bits)
{
    PyObject *seq = PySequence_Fast(seq_obj, "exponents must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    Exponent *exps = PyMem_Calloc((size_t)(count ? count : 1), sizeof(Exponent));
    if (exps == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    Py_ssize_t top = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (read_exponent(PySequence_Fast_GET_ITEM(seq, i), max_bits, &exps[i]) < 0) {
            free_exponents(exps, i);
            Py_DECREF(seq);
            return NULL;
        }
        if (exps[i].bits > top)
            top = exps[i].bits;
    }
    Py_DECREF(seq);
    *k = count;
    *top_bits = top;
    return exps;
}

/* One product to do (r = a·b/R), or none (r NULL). */
typedef struct {
    mp_limb_t *r;
    const mp_limb_t *a, *b;
} MulOp;

/* Independent products done together: the steps of one IFMA product wait on each other, so
 * WAYS of them run in one pass; on Zen 4 a 2048-bit product then costs about 0.18 µs (three),
 * against 0.21 µs (two or four: four spill registers) and 0.36-0.41 µs alone. */
#define WAYS 3

/* The products ops[0..n) (n <= WAYS; those with r NULL are absent), independent of each
 * other: in one pass with the IFMA kernel (the squaring kernel when all are squarings). */
static void
mul_many(const ModulusObject *m, const MulOp *ops, int n, mp_limb_t *t)
{
#ifdef HAVE_IFMA
    if (m->ifma) {
        uint64_t *r[WAYS];
        const uint64_t *a[WAYS], *b[WAYS];
        int k = 0, squares = 1;
        for (int h = 0; h < n; h++) {
            if (ops[h].r == NULL)
                continue;
            r[k] = (uint64_t *)ops[h].r;
            a[k] = (const uint64_t *)ops[h].a;
            b[k] = (const uint64_t *)ops[h].b;
            squares &= a[k] == b[k];
            k++;
        }
        if (k == 0)
            return;
        if (m->vq)
            amm52v_k(m, k, r, a, b);
        else if (squares)
            ams52_k(m, k, r, a);
        else
            amm52_k(m, k, r, a, b);
        return;
    }
#endif
    for (int h = 0; h < n; h++)
        if (ops[h].r != NULL)
            mont_mul(m, ops[h].r, ops[h].a, ops[h].b, t);
}

/* The chain of one base: powers[i] = base^(2^i) for i < ndig (powers[0] given). */
typedef struct {
    mp_limb_t *powers;
    Py_ssize_t ndig;
} Chain;

/* Fills every chain, WAYS at a time (their squarings in one pass). */
static void
run_chains(const ModulusObject *m, Chain *chains, Py_ssize_t nc, mp_limb_t *t)
{
    const mp_size_t E = m->es;
    for (Py_ssize_t c = 0; c < nc; c += WAYS) {
        int k = nc - c < WAYS ? (int)(nc - c) : WAYS;
        Py_ssize_t top = 0;
        for (int h = 0; h < k; h++)
            if (chains[c + h].ndig > top)
                top = chains[c + h].ndig;
        for (Py_ssize_t i = 1; i < top; i++) {
            MulOp ops[WAYS];
            for (int h = 0; h < k; h++) {
                Chain *C = &chains[c + h];
                ops[h].r = NULL;
                if (i < C->ndig) {
                    ops[h].r = C->powers + i * E;
                    ops[h].a = ops[h].b = C->powers + (i - 1) * E;
                }
            }
            mul_many(m, ops, k, t);
        }
    }
}

/* One result of Yao's method with sliding windows: out = base^e (normal form), from the
 * chain powers[i] = base^(2^i). The exponent is cut, from its low end, into windows of w
 * bits that start on a set bit (odd digits d); the power at each window's start goes into
 * bucket d, and base^e = prod_d bucket_d^d. */
typedef struct {
    const mp_limb_t *powers;
    const Exponent *e;
    mp_limb_t *out;
} BucketJob;

/* Scratch of one bucket job: 2^(w-1) buckets (odd digits), their flags, the running product,
 * the result; pos is the next bit of the exponent to read. */
typedef struct {
    mp_limb_t *buckets, *running, *acc;
    char *used;
    int have_running, have_acc;
    Py_ssize_t pos;
} BucketState;

/* The next window of a bucket job: a product in *op, or a copy done here (nothing when the
 * exponent is read). */
static void
step_digit(const ModulusObject *m, const BucketJob *j, BucketState *st, int w, MulOp *op)
{
    const mp_size_t E = m->es;
    if (j == NULL)
        return;
    while (st->pos < j->e->bits && !exp_bits(j->e, st->pos, 1))
        st->pos++;
    if (st->pos >= j->e->bits)
        return;
    unsigned d = exp_bits(j->e, st->pos, w); /* odd */
    const mp_limb_t *v = j->powers + st->pos * E;
    mp_limb_t *b = st->buckets + (Py_ssize_t)(d >> 1) * E;
    st->pos += w;
    if (st->used[d >> 1]) {
        op->r = b;
        op->a = b;
        op->b = v;
    }
    else {
        memcpy(b, v, (size_t)E * sizeof(mp_limb_t));
        st->used[d >> 1] = 1;
    }
}

/* prod_d bucket_d^d over the odd d = 2k+1 as T_0 · (prod_{k>=1} T_k)^2, where
 * T_k = prod_{d >= 2k+1} bucket_d: stage 0 running = T_k, stage 1 acc *= T_k (k >= 1);
 * then (k = -1) stage 0 acc = acc^2, stage 1 acc *= T_0. */
static void
step_combine(const ModulusObject *m, const BucketJob *j, BucketState *st, Py_ssize_t k,
             int stage, MulOp *op)
{
    const size_t sz = (size_t)m->es * sizeof(mp_limb_t);
    if (j == NULL)
        return;
    if (k >= 0 && stage == 0) {
        if (!st->used[k])
            return;
        mp_limb_t *b = st->buckets + k * m->es;
        if (st->have_running) {
            op->r = st->running;
            op->a = st->running;
            op->b = b;
        }
        else {
            memcpy(st->running, b, sz);
            st->have_running = 1;
        }
    }
    else if (k >= 0) {
        if (k == 0 || !st->have_running)
            return;
        if (st->have_acc) {
            op->r = st->acc;
            op->a = st->acc;
            op->b = st->running;
        }
        else {
            memcpy(st->acc, st->running, sz);
            st->have_acc = 1;
        }
    }
    else if (stage == 0) {
        if (st->have_acc) {
            op->r = st->acc;
            op->a = op->b = st->acc;
        }
    }
    else if (st->have_running) {
        if (st->have_acc) {
            op->r = st->acc;
            op->a = st->acc;
            op->b = st->running;
        }
        else {
            memcpy(st->acc, st->running, sz);
            st->have_acc = 1;
        }
    }
}

/* Runs the bucket jobs WAYS at a time; st[0..WAYS) are their scratch. Each result is left
 * in Montgomery form (m->es limbs) with mont, else converted (n limbs). */
static void
run_buckets(const ModulusObject *m, const BucketJob *jobs, Py_ssize_t nj, int w,
            BucketState st[WAYS], mp_limb_t *t, int mont)
{
    const Py_ssize_t nbuckets = (Py_ssize_t)1 << (w - 1);
    for (Py_ssize_t c = 0; c < nj; c += WAYS) {
        const BucketJob *J[WAYS];
        for (int h = 0; h < WAYS; h++) {
            J[h] = c + h < nj ? &jobs[c + h] : NULL;
            memset(st[h].used, 0, (size_t)nbuckets);
            st[h].have_running = st[h].have_acc = 0;
            st[h].pos = 0;
        }
        /* one window of each exponent per pass, until every exponent is read */
        for (;;) {
            MulOp ops[WAYS];
            int any = 0;
            for (int h = 0; h < WAYS; h++) {
                ops[h].r = NULL;
                step_digit(m, J[h], &st[h], w, &ops[h]);
                any |= J[h] != NULL && st[h].pos < J[h]->e->bits;
            }
            mul_many(m, ops, WAYS, t);
            if (!any)
                break;
        }
        for (Py_ssize_t k = nbuckets - 1; k >= -1; k--) {
            for (int stage = 0; stage < 2; stage++) {
                MulOp ops[WAYS];
                for (int h = 0; h < WAYS; h++) {
                    ops[h].r = NULL;
                    step_combine(m, J[h], &st[h], k, stage, &ops[h]);
                }
                mul_many(m, ops, WAYS, t);
            }
        }
        for (int h = 0; h < WAYS; h++) {
            if (J[h] == NULL)
                continue;
            const mp_limb_t *r = st[h].have_acc ? st[h].acc : m->one;
            if (mont)
                memcpy(J[h]->out, r, (size_t)m->es * sizeof(mp_limb_t));
            else
                from_mont(m, J[h]->out, r, t);
        }
    }
}

/* A batch of requests (base_i, exponents_i), read from Python. */
typedef struct {
    Py_ssize_t nbases;
    mp_limb_t *bases;   /* nbases · n limbs, normal form */
    Py_ssize_t *counts; /* exponents of each base */
    Py_ssize_t *tops;   /* bit length of the largest exponent of each base */
    Exponent *exps;     /* all exponents, base after base */
    Py_ssize_t nexps;
} Batch;

static void
free_batch(Batch *b)
{
    free_exponents(b->exps, b->nexps);
    PyMem_Free(b->bases);
    PyMem_Free(b->counts);
    PyMem_Free(b->tops);
}

/* Reads [(base, [e, ...]), ...]; 0, or -1 with an exception (b freed). */
static int
read_batch(const ModulusObject *m, PyObject *requests, Batch *b)
{
    memset(b, 0, sizeof(*b));
    PyObject *seq = PySequence_Fast(requests, "requests must be a sequence of (base, exponents)");
    if (seq == NULL)
        return -1;
    Py_ssize_t nb = PySequence_Fast_GET_SIZE(seq);
    b->nbases = nb;
    b->bases = PyMem_Malloc((size_t)((nb ? nb : 1) * m->n) * sizeof(mp_limb_t));
    b->counts = PyMem_Calloc((size_t)(nb ? nb : 1), sizeof(Py_ssize_t));
    b->tops = PyMem_Calloc((size_t)(nb ? nb : 1), sizeof(Py_ssize_t));
    if (b->bases == NULL || b->counts == NULL || b->tops == NULL) {
        Py_DECREF(seq);
        free_batch(b);
        PyErr_NoMemory();
        return -1;
    }
    Exponent **parts = PyMem_Calloc((size_t)(nb ? nb : 1), sizeof(Exponent *));
    if (parts == NULL) {
        Py_DECREF(seq);
        free_batch(b);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t i, total = 0;
    int err = 0;
    for (i = 0; i < nb && !err; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "each request must be a (base, exponents) tuple");
            err = 1;
            break;
        }
        if (read_residue(m, PyTuple_GET_ITEM(item, 0), "base", b->bases + i * m->n) < 0) {
            err = 1;
            break;
        }
        parts[i] = read_exponents(PyTuple_GET_ITEM(item, 1), MAX_EXPONENT_BITS, &b->counts[i],
                                  &b->tops[i]);
        if (parts[i] == NULL)
            err = 1;
        else
            total += b->counts[i];
    }
    Py_DECREF(seq);
    if (!err) {
        b->exps = PyMem_Calloc((size_t)(total ? total : 1), sizeof(Exponent));
        if (b->exps == NULL) {
            PyErr_NoMemory();
            err = 1;
        }
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t k = 0; k < nb; k++) {
        if (parts[k] == NULL)
            continue;
        if (!err) { /* move the exponents (their buffers) into one array */
            memcpy(b->exps + at, parts[k], (size_t)b->counts[k] * sizeof(Exponent));
            at += b->counts[k];
            PyMem_Free(parts[k]);
        }
        else
            free_exponents(parts[k], b->counts[k]);
    }
    PyMem_Free(parts);
    b->nexps = err ? 0 : total;
    if (err) {
        free_batch(b);
        return -1;
    }
    return 0;
}

/* out (nexps · n limbs): every base^e of the batch; with mont, nexps · m->es limbs in
 * Montgomery form. Without the GIL; -1: out of memory. */
static int
batch_core(const ModulusObject *m, const Batch *b, mp_limb_t *out, int mont)
{
    const mp_size_t n = m->n, E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    Py_ssize_t top = 0, group_bits = 0;
    for (Py_ssize_t i = 0; i < b->nbases; i++)
        if (b->tops[i] > top)
            top = b->tops[i];
    /* the bases go WAYS at a time: their chains (one power per bit), then their results */
    for (Py_ssize_t g = 0; g < b->nbases; g += WAYS) {
        Py_ssize_t bits = 0;
        for (Py_ssize_t i = g; i < g + WAYS && i < b->nbases; i++)
            bits += b->tops[i] ? b->tops[i] : 1;
        if (bits > group_bits)
            group_bits = bits;
    }
    int w = bucket_window(top);
    Py_ssize_t nbuckets = (Py_ssize_t)1 << (w - 1);
    mp_limb_t *powers = PyMem_RawMalloc((size_t)(group_bits ? group_bits : 1) * sz);
    Chain *chains = PyMem_RawMalloc((size_t)(b->nbases ? b->nbases : 1) * sizeof(Chain));
    BucketJob *jobs = PyMem_RawMalloc((size_t)(b->nexps ? b->nexps : 1) * sizeof(BucketJob));
    mp_limb_t *scratch = PyMem_RawMalloc((size_t)(WAYS * (nbuckets + 2)) * sz +
                                         (size_t)m->ts * sizeof(mp_limb_t));
    char *used = PyMem_RawMalloc((size_t)(WAYS * nbuckets));
    int ok = powers && chains && jobs && scratch && used;
    if (ok) {
        mp_limb_t *t = scratch + WAYS * (nbuckets + 2) * E;
        BucketState st[WAYS];
        for (int k = 0; k < WAYS; k++) {
            st[k].buckets = scratch + k * (nbuckets + 2) * E;
            st[k].running = st[k].buckets + nbuckets * E;
            st[k].acc = st[k].running + E;
            st[k].used = used + k * nbuckets;
        }
        Py_ssize_t job = 0;
        for (Py_ssize_t g = 0; g < b->nbases; g += WAYS) {
            Py_ssize_t at = 0, first_job = job, end = g + WAYS < b->nbases ? g + WAYS : b->nbases;
            for (Py_ssize_t i = g; i < end; i++) {
                chains[i].powers = powers + at * E;
                chains[i].ndig = b->tops[i] ? b->tops[i] : 1;
                at += chains[i].ndig;
                to_mont(m, chains[i].powers, b->bases + i * n, t);
                for (Py_ssize_t j = 0; j < b->counts[i]; j++, job++) {
                    jobs[job].powers = chains[i].powers;
                    jobs[job].e = &b->exps[job];
                    jobs[job].out = out + job * (mont ? E : n);
                }
            }
            run_chains(m, chains + g, end - g, t);
            run_buckets(m, jobs + first_job, job - first_job, w, st, t, mont);
        }
    }
    PyMem_RawFree(powers);
    PyMem_RawFree(chains);
    PyMem_RawFree(jobs);
    PyMem_RawFree(scratch);
    PyMem_RawFree(used);
    return ok ? 0 : -1;
}

static PyObject *
results_list(const ModulusObject *m, const mp_limb_t *out, Py_ssize_t k)
{
    PyObject *list = PyList_New(k);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *z = residue_to_mpz(m, out + j * m->n);
        if (z == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, j, z);
    }
    return list;
}

/* Every result of the batch: one flat list of mpz (base after base), or with nested, one
 * list per base. */
static PyObject *
run_batch(ModulusObject *m, PyObject *requests, int nested)
{
    Batch b;
    if (read_batch(m, requests, &b) < 0)
        return NULL;
    mp_limb_t *out = PyMem_Malloc((size_t)((b.nexps ? b.nexps : 1) * m->n) * sizeof(mp_limb_t));
    if (out == NULL) {
        free_batch(&b);
        return PyErr_NoMemory();
    }
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = batch_core(m, &b, out, 0);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (r < 0)
        PyErr_NoMemory();
    else if (!nested)
        result = results_list(m, out, b.nexps);
    else {
        result = PyList_New(b.nbases);
        Py_ssize_t at = 0;
        for (Py_ssize_t i = 0; result != NULL && i < b.nbases; i++) {
            PyObject *part = results_list(m, out + at * m->n, b.counts[i]);
            if (part == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, i, part);
            at += b.counts[i];
        }
    }
    free_batch(&b);
    PyMem_Free(out);
    return result;
}

static PyObject *
modulus_pow_many(ModulusObject *m, PyObject *base_obj, PyObject *exps_obj)
{
    PyObject *request = PyTuple_Pack(2, base_obj, exps_obj);
    if (request == NULL)
        return NULL;
    PyObject *requests = PyTuple_Pack(1, request);
    Py_DECREF(request);
    if (requests == NULL)
        return NULL;
    PyObject *r = run_batch(m, requests, 0);
    Py_DECREF(requests);
    return r;
}

static PyObject *
Modulus_pow_many(ModulusObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "pow_many(base, exponents) takes 2 arguments");
        return NULL;
    }
    return modulus_pow_many(self, args[0], args[1]);
}

/* [[base^e for e in exponents] for base, exponents in requests]: every chain of squarings
 * and every result computed WAYS at a time (the IFMA kernel's grouped products). */
static PyObject *
Modulus_pow_many_batch(ModulusObject *self, PyObject *requests)
{
    return run_batch(self, requests, 1);
}

/* prod bases[i]^exps[i] mod p, Straus' method: one chain of squarings, 2^w-entry tables. */
static PyObject *
Modulus_multi_pow(ModulusObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "multi_pow(bases, exponents) takes 2 arguments");
        return NULL;
    }
    PyObject *bases = PySequence_Fast(args[0], "bases must be a sequence");
    if (bases == NULL)
        return NULL;
    Py_ssize_t k, top_bits;
    Exponent *exps = read_exponents(args[1], MAX_EXPONENT_BITS, &k, &top_bits);
    if (exps == NULL) {
        Py_DECREF(bases);
        return NULL;
    }
    if (PySequence_Fast_GET_SIZE(bases) != k) {
        Py_DECREF(bases);
        free_exponents(exps, k);
        PyErr_SetString(PyExc_ValueError, "as many bases as exponents are needed");
        return NULL;
    }
    const mp_size_t E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    const int w = 4;
    const Py_ssize_t per = (Py_ssize_t)1 << w;
    /* tables: k · 16 entries; entry 0 unused, entry 1 holds the base while reading */
    mp_limb_t *tables = PyMem_Malloc((size_t)((k ? k : 1) * per) * sz);
    mp_limb_t *scratch = PyMem_Malloc(2 * sz + (size_t)m->ts * sizeof(mp_limb_t));
    if (tables == NULL || scratch == NULL) {
        Py_DECREF(bases);
        free_exponents(exps, k);
        PyMem_Free(tables);
        PyMem_Free(scratch);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        if (read_residue(m, PySequence_Fast_GET_ITEM(bases, i), "base",
                         tables + (i * per + 1) * E) < 0) {
            Py_DECREF(bases);
            free_exponents(exps, k);
            PyMem_Free(tables);
            PyMem_Free(scratch);
            return NULL;
        }
    }
    Py_DECREF(bases);
    mp_limb_t *acc = scratch, *res = scratch + E, *t = scratch + 2 * E;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k; i++) {
        mp_limb_t *tab = tables + i * per * E;
        memcpy(res, tab + E, sz);
        to_mont(m, tab + E, res, t);
        for (Py_ssize_t d = 2; d < per; d++)
            mont_mul(m, tab + d * E, tab + (d - 1) * E, tab + E, t);
    }
    int have = 0;
    Py_ssize_t ndig = (top_bits + w - 1) / w;
    for (Py_ssize_t pos = ndig - 1; pos >= 0; pos--) {
        if (have)
            for (int s = 0; s < w; s++)
                mont_mul(m, acc, acc, acc, t);
        for (Py_ssize_t i = 0; i < k; i++) {
            unsigned d = exp_bits(&exps[i], pos * w, w);
            if (!d)
                continue;
            mp_limb_t *v = tables + (i * per + (Py_ssize_t)d) * E;
            if (have)
                mont_mul(m, acc, acc, v, t);
            else {
                memcpy(acc, v, sz);
                have = 1;
            }
        }
    }
    from_mont(m, res, have ? acc : m->one, t);
    Py_END_ALLOW_THREADS
    free_exponents(exps, k);
    PyMem_Free(tables);
    PyObject *z = residue_to_mpz(m, res);
    PyMem_Free(scratch);
    return z;
}

/* ------------------------------------------------------------------ FixedBaseTable */

typedef struct {
    PyObject_HEAD
    ModulusObject *modulus;
    Py_ssize_t max_bits;
    Py_ssize_t nrows;
    mp_limb_t *entries; /* nrows · 256 values in Montgomery form; row i, digit d = base^(d·256^i) */
    PyObject *base;     /* the base as an int */
} TableObject;

static void
Table_dealloc(TableObject *self)
{
    PyMem_Free(self->entries);
    Py_XDECREF(self->modulus);
    Py_XDECREF(self->base);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
make_table(ModulusObject *m, PyObject *base_obj, PyObject *bits_obj)
{
    Py_ssize_t max_bits = PyLong_AsSsize_t(bits_obj);
    if (max_bits == -1 && PyErr_Occurred())
        return NULL;
    if (max_bits < 1 || max_bits > TABLE_MAX_BITS) {
        PyErr_Format(PyExc_ValueError, "max_bits must be 1 to %d", TABLE_MAX_BITS);
        return NULL;
    }
    const mp_size_t E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    mp_limb_t *scratch = PyMem_Malloc(2 * sz + (size_t)m->ts * sizeof(mp_limb_t));
    if (scratch == NULL)
        return PyErr_NoMemory();
    if (read_residue(m, base_obj, "base", scratch) < 0) {
        PyMem_Free(scratch);
        return NULL;
    }
    Py_ssize_t nrows = (max_bits + 7) / 8;
    mp_limb_t *entries = PyMem_Malloc((size_t)(nrows * 256) * sz);
    if (entries == NULL) {
        PyMem_Free(scratch);
        return PyErr_NoMemory();
    }
    Py_ssize_t base_bits;
    PyObject *base_int = as_natural(base_obj, "base", &base_bits);
    if (base_int == NULL) {
        PyMem_Free(scratch);
        PyMem_Free(entries);
        return NULL;
    }
    TableObject *self = (TableObject *)TableType.tp_alloc(&TableType, 0);
    if (self == NULL) {
        Py_DECREF(base_int);
        PyMem_Free(scratch);
        PyMem_Free(entries);
        return NULL;
    }
    Py_INCREF(m);
    self->modulus = m;
    self->max_bits = max_bits;
    self->nrows = nrows;
    self->entries = entries;
    self->base = base_int;
    Py_BEGIN_ALLOW_THREADS
    mp_limb_t *b = scratch + E, *t = scratch + 2 * E;
    to_mont(m, b, scratch, t);
    for (Py_ssize_t i = 0; i < nrows; i++) {
        mp_limb_t *row = entries + i * 256 * E;
        memcpy(row, m->one, sz);
        memcpy(row + E, b, sz);
        for (Py_ssize_t d = 2; d < 256; d++)
            mont_mul(m, row + d * E, row + (d - 1) * E, b, t);
        mont_mul(m, b, row + 255 * E, b, t); /* b^256 for the next row */
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(scratch);
    return (PyObject *)self;
}

static PyObject *
Modulus_table(ModulusObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "table(base, max_bits) takes 2 arguments");
        return NULL;
    }
    return make_table(self, args[0], args[1]);
}

/* factor · base^e (factor NULL: 1) */
static PyObject *
table_pow(TableObject *self, PyObject *e_obj, PyObject *factor_obj)
{
    ModulusObject *m = self->modulus;
    const mp_size_t E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    Exponent e;
    if (read_exponent(e_obj, self->max_bits, &e) < 0)
        return NULL;
    mp_limb_t *scratch = PyMem_Malloc(3 * sz + (size_t)m->ts * sizeof(mp_limb_t));
    if (scratch == NULL) {
        PyMem_Free(e.bytes);
        return PyErr_NoMemory();
    }
    mp_limb_t *f = scratch, *acc = scratch + E, *res = scratch + 2 * E, *t = scratch + 3 * E;
    int have = 0;
    if (factor_obj != NULL) {
        if (read_residue(m, factor_obj, "factor", f) < 0) {
            PyMem_Free(e.bytes);
            PyMem_Free(scratch);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    if (factor_obj != NULL) {
        to_mont(m, acc, f, t);
        have = 1;
    }
    for (Py_ssize_t i = 0; i < e.nbytes; i++) {
        unsigned d = e.bytes[i];
        if (!d)
            continue;
        const mp_limb_t *v = self->entries + (i * 256 + (Py_ssize_t)d) * E;
        if (have)
            mont_mul(m, acc, acc, v, t);
        else {
            memcpy(acc, v, sz);
            have = 1;
        }
    }
    from_mont(m, res, have ? acc : m->one, t);
    Py_END_ALLOW_THREADS
    PyMem_Free(e.bytes);
    PyObject *z = residue_to_mpz(m, res);
    PyMem_Free(scratch);
    return z;
}

/* out[j] = base^exps[j] for j < k, WAYS exponents at a time (grouped products): in
 * Montgomery form (m->es limbs each) with mont, else converted (n limbs each). scratch holds
 * WAYS · m->es + m->ts limbs. Without the GIL. */
static void
table_core(const TableObject *self, const Exponent *exps, Py_ssize_t k, mp_limb_t *out, int mont,
           mp_limb_t *scratch)
{
    const ModulusObject *m = self->modulus;
    const mp_size_t n = m->n, E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    mp_limb_t *acc[WAYS], *t = scratch + WAYS * E;
    for (int h = 0; h < WAYS; h++)
        acc[h] = scratch + h * E;
    for (Py_ssize_t c = 0; c < k; c += WAYS) {
        const Exponent *J[WAYS];
        int have[WAYS];
        Py_ssize_t top = 0;
        for (int h = 0; h < WAYS; h++) {
            J[h] = c + h < k ? &exps[c + h] : NULL;
            have[h] = 0;
            if (J[h] != NULL && J[h]->nbytes > top)
                top = J[h]->nbytes;
        }
        for (Py_ssize_t i = 0; i < top; i++) {
            MulOp op[WAYS];
            for (int h = 0; h < WAYS; h++) {
                op[h].r = NULL;
                if (J[h] == NULL || i >= J[h]->nbytes || !J[h]->bytes[i])
                    continue;
                const mp_limb_t *v = self->entries + (i * 256 + (Py_ssize_t)J[h]->bytes[i]) * E;
                if (have[h]) {
                    op[h].r = acc[h];
                    op[h].a = acc[h];
                    op[h].b = v;
                }
                else {
                    memcpy(acc[h], v, sz);
                    have[h] = 1;
                }
            }
            /* the "intel" variant: the next row's entries asked for from memory now (the
             * tables are larger than L2; the "zen4" path measured no gain from this) */
            if (m->vq)
                for (int h = 0; h < WAYS; h++) {
                    if (J[h] == NULL || i + 1 >= J[h]->nbytes || !J[h]->bytes[i + 1])
                        continue;
                    Py_ssize_t d = (i + 1) * 256 + (Py_ssize_t)J[h]->bytes[i + 1];
                    const char *nx = (const char *)(self->entries + d * E);
                    for (size_t o = 0; o < sz; o += 64)
                        __builtin_prefetch(nx + o);
                }
            mul_many(m, op, WAYS, t);
        }
        for (int h = 0; h < WAYS; h++) {
            if (J[h] == NULL)
                continue;
            const mp_limb_t *r = have[h] ? acc[h] : m->one;
            if (mont)
                memcpy(out + (c + h) * E, r, sz);
            else
                from_mont(m, out + (c + h) * n, r, t);
        }
    }
}

/* [base^e for e in exponents]: WAYS exponents at a time (grouped products). */
static PyObject *
Table_pow_many(TableObject *self, PyObject *exps_obj)
{
    ModulusObject *m = self->modulus;
    const mp_size_t n = m->n, E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    Py_ssize_t k, top_bits;
    Exponent *exps = read_exponents(exps_obj, self->max_bits, &k, &top_bits);
    if (exps == NULL)
        return NULL;
    mp_limb_t *out = PyMem_Malloc((size_t)((k ? k : 1) * n) * sizeof(mp_limb_t));
    mp_limb_t *scratch = PyMem_Malloc(WAYS * sz + (size_t)m->ts * sizeof(mp_limb_t));
    if (out == NULL || scratch == NULL) {
        free_exponents(exps, k);
        PyMem_Free(out);
        PyMem_Free(scratch);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    table_core(self, exps, k, out, 0, scratch);
    Py_END_ALLOW_THREADS
    free_exponents(exps, k);
    PyMem_Free(scratch);
    PyObject *result = results_list(m, out, k);
    PyMem_Free(out);
    return result;
}

static PyObject *
Table_pow(TableObject *self, PyObject *e)
{
    return table_pow(self, e, NULL);
}

static PyObject *
Table_pow_mul(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "pow_mul(exponent, factor) takes 2 arguments");
        return NULL;
    }
    return table_pow(self, args[0], args[1]);
}

static PyObject *
Table_get_max_bits(TableObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->max_bits);
}

static PyObject *
Table_get_base(TableObject *self, void *closure)
{
    (void)closure;
    Py_INCREF(self->base);
    return self->base;
}

static PyObject *
Table_get_modulus(TableObject *self, void *closure)
{
    (void)closure;
    Py_INCREF(self->modulus);
    return (PyObject *)self->modulus;
}

/* ------------------------------------------------------------------ products of powers */

/* One factor list of pow_products: the indices of its values. */
typedef struct {
    Py_ssize_t *idx;
    Py_ssize_t count;
} Product;

static void
free_products(Product *ps, Py_ssize_t k)
{
    if (ps == NULL)
        return;
    for (Py_ssize_t i = 0; i < k; i++)
        PyMem_Free(ps[i].idx);
    PyMem_Free(ps);
}

/* Reads [(i, j, ...), ...]: each a non-empty sequence of indices below nvalues. */
static Product *
read_products(PyObject *obj, Py_ssize_t nvalues, Py_ssize_t *k)
{
    PyObject *seq = PySequence_Fast(obj, "products must be a sequence of index tuples");
    if (seq == NULL)
        return NULL;
    Py_ssize_t np = PySequence_Fast_GET_SIZE(seq);
    Product *ps = PyMem_Calloc((size_t)(np ? np : 1), sizeof(Product));
    if (ps == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        PyObject *f = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, i),
                                      "a product must be a sequence of indices");
        if (f == NULL)
            goto fail;
        Py_ssize_t nf = PySequence_Fast_GET_SIZE(f);
        ps[i].idx = PyMem_Malloc((size_t)(nf ? nf : 1) * sizeof(Py_ssize_t));
        ps[i].count = nf;
        if (ps[i].idx == NULL || nf == 0) {
            Py_DECREF(f);
            if (nf == 0)
                PyErr_SetString(PyExc_ValueError, "a product needs at least one factor");
            else
                PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t j = 0; j < nf; j++) {
            Py_ssize_t v = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(f, j), PyExc_IndexError);
            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(f);
                goto fail;
            }
            if (v < 0 || v >= nvalues) {
                Py_DECREF(f);
                PyErr_Format(PyExc_IndexError, "factor index %zd: there are %zd values", v,
                             nvalues);
                goto fail;
            }
            ps[i].idx[j] = v;
        }
        Py_DECREF(f);
    }
    Py_DECREF(seq);
    *k = np;
    return ps;
fail:
    Py_DECREF(seq);
    free_products(ps, np);
    return NULL;
}

/* The fixed-base part of pow_products: [(table, exponents), ...] of this modulus. */
typedef struct {
    const TableObject *table;
    Exponent *exps;
    Py_ssize_t k;
} FixedPart;

static void
free_fixed(FixedPart *fs, Py_ssize_t k)
{
    if (fs == NULL)
        return;
    for (Py_ssize_t i = 0; i < k; i++)
        free_exponents(fs[i].exps, fs[i].k);
    PyMem_Free(fs);
}

static FixedPart *
read_fixed(const ModulusObject *m, PyObject *obj, Py_ssize_t *k)
{
    PyObject *seq = PySequence_Fast(obj, "fixed must be a sequence of (table, exponents)");
    if (seq == NULL)
        return NULL;
    Py_ssize_t nf = PySequence_Fast_GET_SIZE(seq);
    FixedPart *fs = PyMem_Calloc((size_t)(nf ? nf : 1), sizeof(FixedPart));
    if (fs == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyObject_TypeCheck(PyTuple_GET_ITEM(item, 0), &TableType)) {
            PyErr_SetString(PyExc_TypeError, "each fixed part must be a (table, exponents) tuple");
            goto fail;
        }
        const TableObject *t = (const TableObject *)PyTuple_GET_ITEM(item, 0);
        if (t->modulus != m) {
            PyErr_SetString(PyExc_ValueError, "a table of another modulus");
            goto fail;
        }
        Py_ssize_t top;
        fs[i].table = t;
        fs[i].exps = read_exponents(PyTuple_GET_ITEM(item, 1), t->max_bits, &fs[i].k, &top);
        if (fs[i].exps == NULL)
            goto fail;
    }
    Py_DECREF(seq);
    *k = nf;
    return fs;
fail:
    Py_DECREF(seq);
    free_fixed(fs, nf);
    return NULL;
}

/* pow_products(requests, fixed, products[, text_from]): the values are every power of the
 * batch `requests` (as pow_many_batch, base after base) then every power of each (table,
 * exponents) of `fixed`, all kept in Montgomery form; the result is, for each tuple of
 * indices of `products`, the product of those values mod p (one conversion out each): an
 * mpz, or from index text_from on its decimal text (str(mpz), written without the GIL). */
static PyObject *
Modulus_pow_products(ModulusObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "pow_products(requests, fixed, products[, text_from]) takes 3 or 4 "
                        "arguments");
        return NULL;
    }
    Py_ssize_t text_from = PY_SSIZE_T_MAX;
    if (nargs == 4) {
        text_from = PyNumber_AsSsize_t(args[3], PyExc_OverflowError);
        if (text_from == -1 && PyErr_Occurred())
            return NULL;
        if (text_from < 0) {
            PyErr_SetString(PyExc_ValueError, "text_from must be at least 0");
            return NULL;
        }
    }
    const mp_size_t n = m->n, E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    Batch b;
    if (read_batch(m, args[0], &b) < 0)
        return NULL;
    Py_ssize_t nfixed = 0, nprod = 0, nvalues = b.nexps;
    FixedPart *fs = read_fixed(m, args[1], &nfixed);
    if (fs == NULL) {
        free_batch(&b);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nfixed; i++)
        nvalues += fs[i].k;
    Product *ps = read_products(args[2], nvalues, &nprod);
    if (ps == NULL) {
        free_batch(&b);
        free_fixed(fs, nfixed);
        return NULL;
    }
    if (text_from > nprod)
        text_from = nprod;
    Py_ssize_t ntext = nprod - text_from;
    mp_limb_t *vals = PyMem_Malloc((size_t)(nvalues ? nvalues : 1) * sz);
    mp_limb_t *out = PyMem_Malloc((size_t)((nprod ? nprod : 1) * n) * sizeof(mp_limb_t));
    mp_limb_t *scratch = PyMem_Malloc(WAYS * sz + (size_t)m->ts * sizeof(mp_limb_t));
    unsigned char *texts = PyMem_Malloc((size_t)((ntext ? ntext : 1) * TEXT_SIZE(n)));
    Py_ssize_t *lens = PyMem_Malloc((size_t)(ntext ? ntext : 1) * sizeof(Py_ssize_t));
    int r = -1;
    if (vals != NULL && out != NULL && scratch != NULL && texts != NULL && lens != NULL) {
        Py_BEGIN_ALLOW_THREADS
        r = batch_core(m, &b, vals, 1);
        Py_ssize_t at = b.nexps;
        for (Py_ssize_t i = 0; r == 0 && i < nfixed; i++) {
            table_core(fs[i].table, fs[i].exps, fs[i].k, vals + at * E, 1, scratch);
            at += fs[i].k;
        }
        /* the products WAYS at a time: factor after factor, then one conversion each */
        mp_limb_t *acc[WAYS], *t = scratch + WAYS * E;
        for (int h = 0; h < WAYS; h++)
            acc[h] = scratch + h * E;
        for (Py_ssize_t c = 0; r == 0 && c < nprod; c += WAYS) {
            Py_ssize_t most = 0;
            for (int h = 0; h < WAYS && c + h < nprod; h++) {
                memcpy(acc[h], vals + ps[c + h].idx[0] * E, sz);
                if (ps[c + h].count > most)
                    most = ps[c + h].count;
            }
            for (Py_ssize_t j = 1; j < most; j++) {
                MulOp op[WAYS];
                for (int h = 0; h < WAYS; h++) {
                    op[h].r = NULL;
                    if (c + h < nprod && j < ps[c + h].count) {
                        op[h].r = acc[h];
                        op[h].a = acc[h];
                        op[h].b = vals + ps[c + h].idx[j] * E;
                    }
                }
                mul_many(m, op, WAYS, t);
            }
            for (int h = 0; h < WAYS && c + h < nprod; h++)
                from_mont(m, out + (c + h) * n, acc[h], t);
        }
        /* the decimal texts (t: m->ts >= 2n limbs of scratch) */
        for (Py_ssize_t i = 0; r == 0 && i < ntext; i++)
            lens[i] = residue_digits(n, out + (text_from + i) * n, texts + i * TEXT_SIZE(n), t);
        Py_END_ALLOW_THREADS
    }
    free_batch(&b);
    free_fixed(fs, nfixed);
    free_products(ps, nprod);
    PyMem_Free(vals);
    PyMem_Free(scratch);
    PyObject *result = r == 0 ? results_list(m, out, text_from) : PyErr_NoMemory();
    PyMem_Free(out);
    if (result != NULL && ntext) {
        PyObject *more = PyList_New(nprod);
        for (Py_ssize_t i = 0; more != NULL && i < nprod; i++) {
            PyObject *item;
            if (i < text_from) {
                item = PyList_GET_ITEM(result, i);
                Py_INCREF(item);
            }
            else {
                Py_ssize_t j = i - text_from;
                item = PyUnicode_New(lens[j], 127);
                if (item == NULL) {
                    Py_CLEAR(more);
                    break;
                }
                memcpy(PyUnicode_1BYTE_DATA(item), texts + j * TEXT_SIZE(n), (size_t)lens[j]);
            }
            PyList_SET_ITEM(more, i, item);
        }
        Py_SETREF(result, more);
    }
    PyMem_Free(texts);
    PyMem_Free(lens);
    return result;
}

/* ------------------------------------------------------------------ module */

static PyObject *
fastexp_pow_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "pow_many(base, exponents, modulus) takes 3 arguments");
        return NULL;
    }
    PyObject *m = PyObject_CallOneArg((PyObject *)&ModulusType, args[2]);
    if (m == NULL)
        return NULL;
    PyObject *r = modulus_pow_many((ModulusObject *)m, args[0], args[1]);
    Py_DECREF(m);
    return r;
}

static PyMethodDef Modulus_methods[] = {
    {"pow_many", (PyCFunction)(void (*)(void))Modulus_pow_many, METH_FASTCALL,
     "pow_many(base, exponents) -> list of base^e mod p (shared squarings)"},
    {"pow_many_batch", (PyCFunction)Modulus_pow_many_batch, METH_O,
     "pow_many_batch([(base, exponents), ...]) -> [[base^e mod p, ...], ...]"},
    {"multi_pow", (PyCFunction)(void (*)(void))Modulus_multi_pow, METH_FASTCALL,
     "multi_pow(bases, exponents) -> prod base_i^e_i mod p (Straus)"},
    {"pow_products", (PyCFunction)(void (*)(void))Modulus_pow_products, METH_FASTCALL,
     "pow_products(requests, fixed, products[, text_from]) -> [prod of the indexed powers "
     "mod p, ...] (their decimal str from index text_from on)"},
    {"table", (PyCFunction)(void (*)(void))Modulus_table, METH_FASTCALL,
     "table(base, max_bits) -> FixedBaseTable of base for exponents below 2^max_bits"},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Modulus_get_kernel(ModulusObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(self->ifma ? "ifma" : "mpn");
}

static PyObject *
Modulus_get_variant(ModulusObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(!self->ifma ? "" : self->vq ? "intel" : "zen4");
}

static PyGetSetDef Modulus_getset[] = {
    {"value", (getter)Modulus_get_value, NULL, "the modulus", NULL},
    {"kernel", (getter)Modulus_get_kernel, NULL, "'ifma' (AVX-512 IFMA) or 'mpn' (GMP)", NULL},
    {"variant", (getter)Modulus_get_variant, NULL,
     "the IFMA kernel's variant, 'zen4' or 'intel' (same results); '' for mpn", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModulusType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "viche.crypto._fastexp.Modulus",
    .tp_basicsize = sizeof(ModulusObject),
    .tp_dealloc = (destructor)Modulus_dealloc,
    .tp_repr = (reprfunc)Modulus_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Modulus(p): Montgomery arithmetic modulo an odd p (3 <= p < 2^16384)",
    .tp_methods = Modulus_methods,
    .tp_getset = Modulus_getset,
    .tp_new = Modulus_new,
};

static PyMethodDef Table_methods[] = {
    {"pow", (PyCFunction)Table_pow, METH_O, "pow(e) -> base^e mod p for 0 <= e < 2^max_bits"},
    {"pow_mul", (PyCFunction)(void (*)(void))Table_pow_mul, METH_FASTCALL,
     "pow_mul(e, factor) -> factor * base^e mod p"},
    {"pow_many", (PyCFunction)Table_pow_many, METH_O,
     "pow_many(exponents) -> [base^e mod p for e in exponents] (0 <= e < 2^max_bits)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Table_getset[] = {
    {"max_bits", (getter)Table_get_max_bits, NULL, "exponents are below 2^max_bits", NULL},
    {"base", (getter)Table_get_base, NULL, "the base", NULL},
    {"modulus", (getter)Table_get_modulus, NULL, "the Modulus", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "viche.crypto._fastexp.FixedBaseTable",
    .tp_basicsize = sizeof(TableObject),
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Powers base^(d·256^i) in Montgomery form (made by Modulus.table)",
    .tp_methods = Table_methods,
    .tp_getset = Table_getset,
};

static PyMethodDef module_methods[] = {
    {"pow_many", (PyCFunction)(void (*)(void))fastexp_pow_many, METH_FASTCALL,
     "pow_many(base, exponents, modulus) -> list of base^e mod modulus"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastexp_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "viche.crypto._fastexp",
    .m_doc = "Montgomery exponentiation on GMP's mpn layer (see viche.crypto.fastexp)",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__fastexp(void)
{
    if (PyType_Ready(&ModulusType) < 0 || PyType_Ready(&TableType) < 0)
        return NULL;
#ifdef HAVE_IFMA
    __builtin_cpu_init();
    cpu_has_ifma =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma") ? 1 : 0;
    if (cpu_has_ifma)
        ifma_default_vq = __builtin_cpu_is("amd") ? 0 : 1;
#endif
    PyObject *gmpy2 = PyImport_ImportModule("gmpy2");
    if (gmpy2 == NULL)
        return NULL;
    mpz_type = PyObject_GetAttrString(gmpy2, "mpz");
    Py_DECREF(gmpy2);
    if (mpz_type == NULL)
        return NULL;
    mpz_one = PyObject_CallFunction(mpz_type, "i", 1);
    if (mpz_one == NULL || check_mpz_view() < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&fastexp_module);
    if (mod == NULL)
        return NULL;
    Py_INCREF(&ModulusType);
    Py_INCREF(&TableType);
    if (PyModule_AddObject(mod, "Modulus", (PyObject *)&ModulusType) < 0 ||
        PyModule_AddObject(mod, "FixedBaseTable", (PyObject *)&TableType) < 0 ||
        PyModule_AddStringConstant(mod, "gmp_version", gmp_version) < 0 ||
        PyModule_AddIntConstant(mod, "MAX_EXPONENT_BITS", MAX_EXPONENT_BITS) < 0 ||
        PyModule_AddIntConstant(mod, "MAX_MODULUS_BITS", MAX_MODULUS_BITS) < 0 ||
        PyModule_AddIntConstant(mod, "TABLE_MAX_BITS", TABLE_MAX_BITS) < 0 ||
        PyModule_AddIntConstant(mod, "HAVE_IFMA", cpu_has_ifma) < 0 ||
        PyModule_AddIntConstant(mod, "MPZ_READ_IN_PLACE", mpz_view_ok) < 0 ||
        PyModule_AddStringConstant(mod, "IFMA_VARIANT",
                                   !cpu_has_ifma ? "" : ifma_default_vq ? "intel" : "zen4") < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
