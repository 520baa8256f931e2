/*
 * viche.crypto._fastexp: Montgomery arithmetic modulo a fixed odd modulus, on GMP's public
 * mpn layer, for the exponentiations of viche.crypto.fastexp.
 *
 * A product modulo p costs one mpn_mul_n (or mpn_sqr) and one Montgomery reduction (REDC)
 * by rows of mpn_addmul_1, instead of a multiplication and a division. Values stay in
 * Montgomery form (x·R mod p, R = 2^(limb bits · n)) for the whole computation and are
 * converted once on the way in and once on the way out.
 *
 * Objects:
 *   Modulus(p)                  p odd, 3 <= p < 2^16384
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

typedef struct {
    PyObject_HEAD
    mp_size_t n;     /* limbs of p */
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

/* r = a·b / R mod p; t is scratch of 2n limbs; r may alias a or b. */
static inline void
mont_mul(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
         mp_limb_t *t)
{
    if (a == b)
        mpn_sqr(t, a, m->n);
    else
        mpn_mul_n(t, a, b, m->n);
    redc(m, r, t);
}

static void
to_mont(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *x, mp_limb_t *t)
{
    mont_mul(m, r, x, m->r2, t);
}

static void
from_mont(const ModulusObject *m, mp_limb_t *r, const mp_limb_t *x, mp_limb_t *t)
{
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
    static char *kwlist[] = {"modulus", NULL};
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Modulus", kwlist, &obj))
        return NULL;
    Py_ssize_t bits;
    PyObject *v = as_natural(obj, "modulus", &bits);
    if (v == NULL)
        return NULL;
    if (bits < 2 || bits > MAX_MODULUS_BITS) {
        Py_DECREF(v);
        PyErr_Format(PyExc_ValueError, "modulus must have 2 to %d bits", MAX_MODULUS_BITS);
        return NULL;
    }
    mp_size_t n = (mp_size_t)((bits + LIMB_BITS - 1) / LIMB_BITS);
    unsigned char *buf = PyMem_Malloc((size_t)(n * LIMB_BYTES));
    mp_limb_t *mem = PyMem_Malloc((size_t)(3 * n) * sizeof(mp_limb_t));
    mp_limb_t *num = PyMem_Malloc((size_t)(2 * n + 1 + n + 2) * sizeof(mp_limb_t));
    if (buf == NULL || mem == NULL || num == NULL) {
        PyMem_Free(buf);
        PyMem_Free(mem);
        PyMem_Free(num);
        Py_DECREF(v);
        return PyErr_NoMemory();
    }
    if (long_to_le_bytes(v, buf, n * LIMB_BYTES) < 0) {
        PyMem_Free(buf);
        PyMem_Free(mem);
        PyMem_Free(num);
        Py_DECREF(v);
        return NULL;
    }
    mp_limb_t *p = mem, *r2 = mem + n, *one = mem + 2 * n;
    bytes_to_limbs(p, buf, n);
    PyMem_Free(buf);
    if ((p[0] & 1) == 0) {
        PyMem_Free(mem);
        PyMem_Free(num);
        Py_DECREF(v);
        PyErr_SetString(PyExc_ValueError, "modulus must be odd");
        return NULL;
    }
    /* -p^-1 mod 2^LIMB_BITS by Newton's iteration (each step doubles the correct bits) */
    mp_limb_t inv = p[0]; /* correct to 3 bits: p·p = 1 mod 8 for odd p */
    for (int i = 0; i < 7; i++)
        inv *= 2 - p[0] * inv;
    /* R^2 mod p: the remainder of 2^(2·n·LIMB_BITS) by p */
    memset(num, 0, (size_t)(2 * n) * sizeof(mp_limb_t));
    num[2 * n] = 1;
    mpn_tdiv_qr(num + 2 * n + 1, r2, 0, num, 2 * n + 1, p, n);
    PyMem_Free(num);

    ModulusObject *self = (ModulusObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(mem);
        Py_DECREF(v);
        return NULL;
    }
    self->n = n;
    self->p = p;
    self->r2 = r2;
    self->one = one;
    self->ninv = (mp_limb_t)0 - inv;
    self->value = v;
    self->bits = bits;
    /* R mod p = REDC(R^2) */
    mp_limb_t *t = PyMem_Malloc((size_t)(2 * n) * sizeof(mp_limb_t));
    if (t == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    from_mont(self, one, r2, t);
    PyMem_Free(t);
    return (PyObject *)self;
}

static PyObject *
Modulus_repr(ModulusObject *self)
{
    return PyUnicode_FromFormat("Modulus(bits=%zd)", self->bits);
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
    const mp_size_t n = m->n;
    const size_t sz = (size_t)n * sizeof(mp_limb_t);
    int w = bucket_window(top_bits);
    Py_ssize_t ndig = top_bits ? (top_bits + w - 1) / w : 1;
    Py_ssize_t nbuckets = (Py_ssize_t)1 << w;
    mp_limb_t *powers = PyMem_RawMalloc((size_t)ndig * sz);
    mp_limb_t *buckets = PyMem_RawMalloc((size_t)nbuckets * sz);
    mp_limb_t *running = PyMem_RawMalloc(sz);
    mp_limb_t *acc = PyMem_RawMalloc(sz);
    mp_limb_t *t = PyMem_RawMalloc(2 * sz);
    char *used = PyMem_RawMalloc((size_t)nbuckets);
    int ok = powers && buckets && running && acc && t && used;
    if (ok) {
        /* powers[i] = base^(2^(w·i)) */
        memcpy(powers, base_m, sz);
        for (Py_ssize_t i = 1; i < ndig; i++) {
            mp_limb_t *x = powers + i * n;
            mont_mul(m, x, powers + (i - 1) * n, powers + (i - 1) * n, t);
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
                mp_limb_t *b = buckets + (Py_ssize_t)d * n;
                if (used[d])
                    mont_mul(m, b, b, powers + pos * n, t);
                else {
                    memcpy(b, powers + pos * n, sz);
                    used[d] = 1;
                }
            }
            /* prod_d bucket_d^d = prod_{k>=1} (prod_{d>=k} bucket_d): running products */
            int have_running = 0, have_acc = 0;
            for (Py_ssize_t d = nbuckets - 1; d >= 1; d--) {
                if (used[d]) {
                    if (have_running)
                        mont_mul(m, running, running, buckets + d * n, t);
                    else {
                        memcpy(running, buckets + d * n, sz);
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
    const mp_size_t n = m->n;
    mp_limb_t *base = PyMem_Malloc((size_t)(4 * n) * sizeof(mp_limb_t));
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
    mp_limb_t *base_m = base + n, *t = base + 2 * n;
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
    const mp_size_t n = m->n;
    const size_t sz = (size_t)n * sizeof(mp_limb_t);
    const int w = 4;
    const Py_ssize_t per = (Py_ssize_t)1 << w;
    /* tables: k · 16 entries; entry 0 unused, entry 1 holds the base while reading */
    mp_limb_t *tables = PyMem_Malloc((size_t)((k ? k : 1) * per) * sz);
    mp_limb_t *scratch = PyMem_Malloc(4 * sz);
    if (tables == NULL || scratch == NULL) {
        Py_DECREF(bases);
        free_exponents(exps, k);
        PyMem_Free(tables);
        PyMem_Free(scratch);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        if (read_residue(m, PySequence_Fast_GET_ITEM(bases, i), "base",
                         tables + (i * per + 1) * n) < 0) {
            Py_DECREF(bases);
            free_exponents(exps, k);
            PyMem_Free(tables);
            PyMem_Free(scratch);
            return NULL;
        }
    }
    Py_DECREF(bases);
    mp_limb_t *acc = scratch, *res = scratch + n, *t = scratch + 2 * n;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k; i++) {
        mp_limb_t *tab = tables + i * per * n;
        memcpy(res, tab + n, sz);
        to_mont(m, tab + n, res, t);
        for (Py_ssize_t d = 2; d < per; d++)
            mont_mul(m, tab + d * n, tab + (d - 1) * n, tab + n, t);
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
            mp_limb_t *v = tables + (i * per + (Py_ssize_t)d) * n;
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
    const mp_size_t n = m->n;
    const size_t sz = (size_t)n * sizeof(mp_limb_t);
    mp_limb_t *scratch = PyMem_Malloc(4 * sz);
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
    mp_limb_t *b = scratch + n, *t = scratch + 2 * n;
    to_mont(m, b, scratch, t);
    for (Py_ssize_t i = 0; i < nrows; i++) {
        mp_limb_t *row = entries + i * 256 * n;
        memcpy(row, m->one, sz);
        memcpy(row + n, b, sz);
        for (Py_ssize_t d = 2; d < 256; d++)
            mont_mul(m, row + d * n, row + (d - 1) * n, b, t);
        mont_mul(m, b, row + 255 * n, b, t); /* b^256 for the next row */
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
    const mp_size_t n = m->n;
    const size_t sz = (size_t)n * sizeof(mp_limb_t);
    Exponent e;
    if (read_exponent(e_obj, self->max_bits, &e) < 0)
        return NULL;
    mp_limb_t *scratch = PyMem_Malloc(5 * sz);
    if (scratch == NULL) {
        PyMem_Free(e.bytes);
        return PyErr_NoMemory();
    }
    mp_limb_t *f = scratch, *acc = scratch + n, *res = scratch + 2 * n, *t = scratch + 3 * n;
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
        const mp_limb_t *v = self->entries + (i * 256 + (Py_ssize_t)d) * n;
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

static PyGetSetDef Modulus_getset[] = {
    {"value", (getter)Modulus_get_value, NULL, "the modulus", NULL},
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
        PyModule_AddIntConstant(mod, "TABLE_MAX_BITS", TABLE_MAX_BITS) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
