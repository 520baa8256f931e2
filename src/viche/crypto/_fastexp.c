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
 *   Modulus(p, "auto") takes IFMA for 1025-2078-bit moduli when the CPU has it.
 *
 * Objects:
 *   Modulus(p, kernel="auto")   p odd, 3 <= p < 2^16384; kernel "auto", "mpn" or "ifma"
 *     .pow_many(base, exps)     [base^e mod p for e in exps], one chain of squarings shared
 *                               by all exponents (Yao's bucket method)
 *     .multi_pow(bases, exps)   prod base_i^e_i mod p (Straus: shared squarings)
 *     .table(base, max_bits)    a FixedBaseTable of base for exponents below 2^max_bits
 *   FixedBaseTable
 *     .pow(e), .pow_mul(e, f)   base^e, f·base^e mod p: one product per non-zero byte of e
 *   pow_many(base, exps, p)     Modulus(p).pow_many(base, exps)
 *
 * Inputs are Python ints or anything with __index__ (gmpy2.mpz); results are gmpy2.mpz.
 * Every input is checked (bases and factors in [0, p), exponents in [0, 2^65536) or below
 * the table's size) and refused with ValueError / TypeError; the arithmetic runs without
 * the GIL. Timing is not constant (public values: verification).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <gmp.h>
#include <stdint.h>
#include <string.h>

#if GMP_NAIL_BITS != 0
#error "GMP with nail bits is not supported"
#endif

#define LIMB_BYTES ((Py_ssize_t)sizeof(mp_limb_t))
#define LIMB_BITS (8 * (Py_ssize_t)sizeof(mp_limb_t))
#define MAX_MODULUS_BITS 16384
#define MAX_EXPONENT_BITS 65536
#define TABLE_MAX_BITS 4096

static PyObject *mpz_type = NULL; /* gmpy2.mpz */
static PyObject *zero = NULL;     /* the int 0 */

/* ------------------------------------------------------------------ int <-> bytes */

/* Bit length of a non-negative PyLong (v must be an exact int). */
static int
long_bits(PyObject *v, Py_ssize_t *bits)
{
    PyObject *b = PyObject_CallMethod(v, "bit_length", NULL);
    if (b == NULL)
        return -1;
    *bits = PyLong_AsSsize_t(b);
    Py_DECREF(b);
    return (*bits == -1 && PyErr_Occurred()) ? -1 : 0;
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
    int neg = PyObject_RichCompareBool(v, zero, Py_LT);
    if (neg != 0) {
        if (neg > 0)
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

typedef struct {
    PyObject_HEAD
    mp_size_t n;     /* limbs of p */
    mp_size_t es;    /* limbs of a value in Montgomery form (n, or IFMA_L) */
    mp_size_t ts;    /* limbs of the scratch of one product */
    int ifma;        /* 1: the AVX-512 IFMA kernel (radix 2^52), 0: GMP's mpn */
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
/* Almost Montgomery multiplication in radix 2^52 with AVX-512 IFMA: r = a·b / 2^2080 mod p,
 * for a, b < 2p with limbs below 2^52; r < 2p, limbs below 2^52 (4p < 2^2080). Each step
 * adds a·b_i and m·p (m making the low limb vanish) into 40 lanes of 64 bits and shifts one
 * lane down; lanes hold at most 160·2^52 < 2^64 before the final carry propagation.
 * r may alias a or b (written at the end only). */
__attribute__((target("avx512f,avx512ifma"))) static void
amm52(const ModulusObject *m, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    const uint64_t *p = m->p52;
    __m512i A0 = _mm512_loadu_si512(a), A1 = _mm512_loadu_si512(a + 8),
            A2 = _mm512_loadu_si512(a + 16), A3 = _mm512_loadu_si512(a + 24),
            A4 = _mm512_loadu_si512(a + 32);
    __m512i P0 = _mm512_loadu_si512(p), P1 = _mm512_loadu_si512(p + 8),
            P2 = _mm512_loadu_si512(p + 16), P3 = _mm512_loadu_si512(p + 24),
            P4 = _mm512_loadu_si512(p + 32);
    const __m512i z = _mm512_setzero_si512();
    __m512i R0 = z, R1 = z, R2 = z, R3 = z, R4 = z;
    const uint64_t k0 = m->k0, p0 = p[0];
    for (int i = 0; i < IFMA_L; i++) {
        __m512i bi = _mm512_set1_epi64((long long)b[i]);
        R0 = _mm512_madd52lo_epu64(R0, A0, bi);
        R1 = _mm512_madd52lo_epu64(R1, A1, bi);
        R2 = _mm512_madd52lo_epu64(R2, A2, bi);
        R3 = _mm512_madd52lo_epu64(R3, A3, bi);
        R4 = _mm512_madd52lo_epu64(R4, A4, bi);
        uint64_t x0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(R0));
        uint64_t q = (x0 * k0) & MASK52;
        uint64_t carry = (x0 + ((q * p0) & MASK52)) >> 52;
        __m512i qv = _mm512_set1_epi64((long long)q);
        R0 = _mm512_madd52lo_epu64(R0, P0, qv);
        R1 = _mm512_madd52lo_epu64(R1, P1, qv);
        R2 = _mm512_madd52lo_epu64(R2, P2, qv);
        R3 = _mm512_madd52lo_epu64(R3, P3, qv);
        R4 = _mm512_madd52lo_epu64(R4, P4, qv);
        R0 = _mm512_alignr_epi64(R1, R0, 1);
        R1 = _mm512_alignr_epi64(R2, R1, 1);
        R2 = _mm512_alignr_epi64(R3, R2, 1);
        R3 = _mm512_alignr_epi64(R4, R3, 1);
        R4 = _mm512_alignr_epi64(z, R4, 1);
        R0 = _mm512_mask_add_epi64(R0, 1, R0, _mm512_set1_epi64((long long)carry));
        R0 = _mm512_madd52hi_epu64(R0, A0, bi);
        R1 = _mm512_madd52hi_epu64(R1, A1, bi);
        R2 = _mm512_madd52hi_epu64(R2, A2, bi);
        R3 = _mm512_madd52hi_epu64(R3, A3, bi);
        R4 = _mm512_madd52hi_epu64(R4, A4, bi);
        R0 = _mm512_madd52hi_epu64(R0, P0, qv);
        R1 = _mm512_madd52hi_epu64(R1, P1, qv);
        R2 = _mm512_madd52hi_epu64(R2, P2, qv);
        R3 = _mm512_madd52hi_epu64(R3, P3, qv);
        R4 = _mm512_madd52hi_epu64(R4, P4, qv);
    }
    uint64_t t[IFMA_L];
    _mm512_storeu_si512(t, R0);
    _mm512_storeu_si512(t + 8, R1);
    _mm512_storeu_si512(t + 16, R2);
    _mm512_storeu_si512(t + 24, R3);
    _mm512_storeu_si512(t + 32, R4);
    uint64_t cy = 0;
    for (int j = 0; j < IFMA_L; j++) {
        uint64_t v = t[j] + cy;
        r[j] = v & MASK52;
        cy = v >> 52;
    }
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
    if (m->ifma) {
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

/* A gmpy2.mpz of the n-limb normal-form value x. */
static PyObject *
residue_to_mpz(const ModulusObject *m, const mp_limb_t *x)
{
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
    int ifma;
    if (strcmp(kernel, "mpn") == 0)
        ifma = 0;
    else if (strcmp(kernel, "ifma") == 0 || strcmp(kernel, "auto") == 0)
        ifma = 1;
    else {
        PyErr_SetString(PyExc_ValueError, "kernel must be 'auto', 'mpn' or 'ifma'");
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
                                self->ifma ? "ifma" : "mpn");
}

static PyObject *
Modulus_get_value(ModulusObject *self, void *closure)
{
    (void)closure;
    Py_INCREF(self->value);
    return self->value;
}

/* The window of the bucket method for exponents of `bits` bits: the w minimising
 * bits/w digit products + 2·(2^w - 1) bucket products. */
static int
bucket_window(Py_ssize_t bits)
{
    int best = 1;
    double best_cost = 1e300;
    for (int w = 1; w <= 8; w++) {
        double cost = (double)((bits + w - 1) / w) * (1.0 - 1.0 / (double)(1 << w)) +
                      2.0 * (double)((1 << w) - 1);
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

/* out[j] = base^exps[j] (normal form), base in Montgomery form. No GIL needed. */
static int
pow_many_core(const ModulusObject *m, const mp_limb_t *base_m, const Exponent *exps,
              Py_ssize_t k, Py_ssize_t top_bits, mp_limb_t *out)
{
    const mp_size_t n = m->n, E = m->es;
    const size_t sz = (size_t)E * sizeof(mp_limb_t);
    int w = bucket_window(top_bits);
    Py_ssize_t ndig = top_bits ? (top_bits + w - 1) / w : 1;
    Py_ssize_t nbuckets = (Py_ssize_t)1 << w;
    mp_limb_t *powers = PyMem_RawMalloc((size_t)ndig * sz);
    mp_limb_t *buckets = PyMem_RawMalloc((size_t)nbuckets * sz);
    mp_limb_t *running = PyMem_RawMalloc(sz);
    mp_limb_t *acc = PyMem_RawMalloc(sz);
    mp_limb_t *t = PyMem_RawMalloc((size_t)m->ts * sizeof(mp_limb_t));
    char *used = PyMem_RawMalloc((size_t)nbuckets);
    int ok = powers && buckets && running && acc && t && used;
    if (ok) {
        /* powers[i] = base^(2^(w·i)) */
        memcpy(powers, base_m, sz);
        for (Py_ssize_t i = 1; i < ndig; i++) {
            mp_limb_t *x = powers + i * E;
            mont_mul(m, x, powers + (i - 1) * E, powers + (i - 1) * E, t);
            for (int s = 1; s < w; s++)
                mont_mul(m, x, x, x, t);
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            const Exponent *e = &exps[j];
            memset(used, 0, (size_t)nbuckets);
            Py_ssize_t edig = (e->bits + w - 1) / w;
            for (Py_ssize_t pos = 0; pos < edig; pos++) {
                unsigned d = exp_bits(e, pos * w, w);
                if (!d)
                    continue;
                mp_limb_t *b = buckets + (Py_ssize_t)d * E;
                if (used[d])
                    mont_mul(m, b, b, powers + pos * E, t);
                else {
                    memcpy(b, powers + pos * E, sz);
                    used[d] = 1;
                }
            }
            /* prod_d bucket_d^d = prod_{k>=1} (prod_{d>=k} bucket_d): running products */
            int have_running = 0, have_acc = 0;
            for (Py_ssize_t d = nbuckets - 1; d >= 1; d--) {
                if (used[d]) {
                    if (have_running)
                        mont_mul(m, running, running, buckets + d * E, t);
                    else {
                        memcpy(running, buckets + d * E, sz);
                        have_running = 1;
                    }
                }
                if (have_running) {
                    if (have_acc)
                        mont_mul(m, acc, acc, running, t);
                    else {
                        memcpy(acc, running, sz);
                        have_acc = 1;
                    }
                }
            }
            if (have_acc)
                from_mont(m, out + j * n, acc, t);
            else
                from_mont(m, out + j * n, m->one, t);
        }
    }
    PyMem_RawFree(powers);
    PyMem_RawFree(buckets);
    PyMem_RawFree(running);
    PyMem_RawFree(acc);
    PyMem_RawFree(t);
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

static PyObject *
modulus_pow_many(ModulusObject *m, PyObject *base_obj, PyObject *exps_obj)
{
    const mp_size_t n = m->n, E = m->es;
    mp_limb_t *base = PyMem_Malloc((size_t)(n + E + m->ts) * sizeof(mp_limb_t));
    if (base == NULL)
        return PyErr_NoMemory();
    if (read_residue(m, base_obj, "base", base) < 0) {
        PyMem_Free(base);
        return NULL;
    }
    Py_ssize_t k, top_bits;
    Exponent *exps = read_exponents(exps_obj, MAX_EXPONENT_BITS, &k, &top_bits);
    if (exps == NULL) {
        PyMem_Free(base);
        return NULL;
    }
    mp_limb_t *out = PyMem_Malloc((size_t)((k ? k : 1) * n) * sizeof(mp_limb_t));
    if (out == NULL) {
        free_exponents(exps, k);
        PyMem_Free(base);
        return PyErr_NoMemory();
    }
    int r;
    Py_BEGIN_ALLOW_THREADS
    mp_limb_t *base_m = base + n, *t = base + n + E;
    to_mont(m, base_m, base, t);
    r = pow_many_core(m, base_m, exps, k, top_bits, out);
    Py_END_ALLOW_THREADS
    free_exponents(exps, k);
    PyMem_Free(base);
    PyObject *result = r < 0 ? PyErr_NoMemory() : results_list(m, out, k);
    PyMem_Free(out);
    return result;
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
    {"multi_pow", (PyCFunction)(void (*)(void))Modulus_multi_pow, METH_FASTCALL,
     "multi_pow(bases, exponents) -> prod base_i^e_i mod p (Straus)"},
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

static PyGetSetDef Modulus_getset[] = {
    {"value", (getter)Modulus_get_value, NULL, "the modulus", NULL},
    {"kernel", (getter)Modulus_get_kernel, NULL, "'ifma' (AVX-512 IFMA) or 'mpn' (GMP)", NULL},
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
#endif
    zero = PyLong_FromLong(0);
    if (zero == NULL)
        return NULL;
    PyObject *gmpy2 = PyImport_ImportModule("gmpy2");
    if (gmpy2 == NULL)
        return NULL;
    mpz_type = PyObject_GetAttrString(gmpy2, "mpz");
    Py_DECREF(gmpy2);
    if (mpz_type == NULL)
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
        PyModule_AddIntConstant(mod, "HAVE_IFMA", cpu_has_ifma) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
