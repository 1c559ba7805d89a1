/* mailward.classifier._cfeat: the content classifier's hashed row of an ASCII text, in C.
 *
 * An optional helper (built when a C compiler is at hand; mailward.classifier._native loads it,
 * and the Python/numpy path of _fastrow.py is used without it and for every text it declines).
 *
 * ascii_row(doc, char_chars, meta, word_n, char_n, meta_n) -> (columns, values) | None
 *   The word, char and meta blocks of Featurizer.row for an ASCII ``doc`` (body_text's result),
 *   as bytes of native int32 columns and float32 values, bit for bit those of
 *   _fastrow.BlockHasher.hashed_blocks:
 *   - word block: the runs of two or more word characters ([0-9A-Za-z_], lower-cased) of
 *     ``doc`` (WordGrams.tokens), then each neighbouring pair joined by one space;
 *   - char block: ``doc[:char_chars].lower().split()``, each word padded with one space on both
 *     sides, every 3, 4 and 5 character window inside a padded word (char_wb 3-5 grams);
 *   - meta block: the str tokens of ``meta``, UTF-8 encoded (strict: a lone surrogate raises
 *     UnicodeEncodeError, as scikit-learn's hashing does);
 *   each gram's bytes hashed with MurmurHash3 x86_32, seed 0, as a signed number, column
 *   abs(h) % n; the blocks side by side (char columns after word_n, meta after word_n+char_n),
 *   counted (sorted distinct columns) and each block l2-normalised by its own counts with the
 *   float64 operations of the numpy path (whole counts and their squares summed exactly,
 *   correctly rounded sqrt and division, then rounded to float32).
 *   Returns None (the caller takes the Python path) for a non-ASCII or over-long ``doc`` or
 *   too many meta tokens.
 *
 * row_sums(coef_t, indices, values, out) -> None
 *   ``out[c] = sum_i coef_t[indices[i], c] * values[i]`` in float32, the products rounded to
 *   float32 and added one after another in the row's order: LinearModel._sums's numbers
 *   (numpy's take, multiply and cumsum). Compiled with -ffp-contract=off: a fused multiply-add
 *   would round once instead of twice and change the sums.
 *
 * Why C: no library hashes scikit-learn-compatible char_wb n-grams of a whole text in one call;
 * the numpy path pays a fixed cost per numpy call and scikit-learn's hashing loop a Python
 * string per gram, which together were most of the content detector's time per message.
 *
 * Memory safety: the texts are attacker-controlled. Every size is checked against fixed limits
 * before any allocation (MAX_DOC, MAX_META, MAX_TOKEN), every buffer's capacity is derived from
 * those sizes with the bound proven in a comment, and every index read from a caller's array
 * is checked against the array it indexes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Texts longer than this (characters) are declined: body_text holds WORD_CHARS of the body. */
#define MAX_DOC ((Py_ssize_t)1 << 22)
/* More meta tokens than this are declined (meta_tokens gives a few hundred at most). */
#define MAX_META ((Py_ssize_t)1 << 16)
/* A meta token longer than this (UTF-8 bytes) is declined. */
#define MAX_TOKEN ((Py_ssize_t)1 << 20)
/* A row of more columns than this (before counting) is declined. */
#define MAX_COLUMNS ((Py_ssize_t)1 << 22)
/* row_sums keeps the sums of up to this many classes on the stack. */
#define MAX_LOCAL_CLASSES 16
/* row_sums asks for the coefficients of the term this many terms ahead. */
#define PREFETCH_AHEAD 8
/* Radix sort digit, and the passes of a 32-bit key (counts fit in uint32: count <= MAX_COLUMNS). */
#define DIGIT_BITS 10
#define DIGITS (1 << DIGIT_BITS)
#define MAX_PASSES ((32 + DIGIT_BITS - 1) / DIGIT_BITS)

/* ASCII byte -> the word character it is lower-cased, or 0 when it is no word character. */
static unsigned char WORD_CHAR[256];
/* ASCII byte -> 1 when str.split() splits at it (str.isspace()), else 0. */
static unsigned char SPLIT_SPACE[256];

static inline uint32_t
rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t
scramble(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = rotl32(k, 15);
    return k * 0x1b873593u;
}

/* MurmurHash3's final mix of h after ``len`` bytes. */
static inline uint32_t
finish(uint32_t h, uint32_t len)
{
    h ^= len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* MurmurHash3 x86_32, seed 0, of data[0:len], the blocks read little-endian (as numpy's path). */
static uint32_t
murmur3(const unsigned char *data, Py_ssize_t len)
{
    uint32_t h = 0;
    Py_ssize_t blocks = len / 4;
    for (Py_ssize_t i = 0; i < blocks; i++) {
        const unsigned char *p = data + 4 * i;
        uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        h ^= scramble(k);
        h = rotl32(h, 13);
        h = h * 5u + 0xe6546b64u;
    }
    const unsigned char *tail = data + 4 * blocks;
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= (uint32_t)tail[0];
        h ^= scramble(k);
        break;
    default:
        break;
    }
    return finish(h, (uint32_t)len);
}

/* murmur3 of the 3, 4 and 5 bytes at p (p[0:5] readable when five is set): the same numbers,
 * the 4- and 5-byte windows sharing their first block. */
static inline uint32_t
murmur3_of_3(const unsigned char *p)
{
    uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    return finish(scramble(k), 3);
}

static inline uint32_t
murmur3_block(const unsigned char *p)
{
    uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                 ((uint32_t)p[3] << 24);
    return rotl32(scramble(k), 13) * 5u + 0xe6546b64u;
}

/* abs() of the hash read as int32 (exact in uint32: abs(-2**31) is 2**31), modulo n (n >= 1;
 * a power of two, as the shipped sizes are, by a mask instead of a division: the same). */
static inline uint32_t
column_of(uint32_t h, uint32_t n)
{
    uint32_t magnitude = h >= 0x80000000u ? 0u - h : h;
    return (n & (n - 1)) == 0 ? magnitude & (n - 1) : magnitude % n;
}

/* Sorts keys[0:count] (each < 2**bits, count <= MAX_COLUMNS) with an LSD radix sort through
 * spare[0:count]; returns the array that holds the sorted keys (keys or spare). The counts of
 * every digit are taken in one pass over the keys; a digit that all keys share is skipped. */
static uint32_t *
radix_sort(uint32_t *keys, uint32_t *spare, Py_ssize_t count, int bits)
{
    uint32_t histogram[MAX_PASSES][DIGITS];
    int passes = (bits + DIGIT_BITS - 1) / DIGIT_BITS;
    memset(histogram, 0, (size_t)passes * sizeof(histogram[0]));
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t key = keys[i];
        for (int p = 0; p < passes; p++) {
            histogram[p][(key >> (p * DIGIT_BITS)) & (DIGITS - 1)]++;
        }
    }
    for (int p = 0; p < passes; p++) {
        uint32_t *offsets = histogram[p];
        uint32_t total = 0;
        int trivial = 0;
        for (int d = 0; d < DIGITS; d++) {
            uint32_t here = offsets[d];
            if ((Py_ssize_t)here == count) {
                trivial = 1; /* every key has this digit: the pass would move nothing */
            }
            offsets[d] = total;
            total += here;
        }
        if (trivial) {
            continue;
        }
        int shift = p * DIGIT_BITS;
        for (Py_ssize_t i = 0; i < count; i++) {
            spare[offsets[(keys[i] >> shift) & (DIGITS - 1)]++] = keys[i];
        }
        uint32_t *swap = keys;
        keys = spare;
        spare = swap;
    }
    return keys;
}

/* The buffers of one ascii_row or token_blocks call, freed together. */
typedef struct {
    uint32_t *columns;
    uint32_t *spare;
    unsigned char *scratch;
} Buffers;

static void
buffers_free(Buffers *b)
{
    PyMem_Free(b->columns);
    PyMem_Free(b->spare);
    PyMem_Free(b->scratch);
}

/* Appends the word block's columns of text[0:len] to columns[*count...]. Writes at most
 * len + 1 columns: k tokens of two or more characters, each but the last followed by a
 * separator, need 3k - 1 <= len characters, and give 2k - 1 <= len columns. The scratch
 * buffer holds a bigram (two tokens and a space: at most len characters). */
static void
word_columns(const unsigned char *text, Py_ssize_t len, uint32_t n, uint32_t *columns,
             Py_ssize_t *count, unsigned char *scratch)
{
    Py_ssize_t prev_start = -1, prev_len = 0;
    Py_ssize_t i = 0;
    while (i < len) {
        if (!WORD_CHAR[text[i]]) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < len && WORD_CHAR[text[i]]) {
            i++;
        }
        Py_ssize_t size = i - start;
        if (size < 2) {
            continue;
        }
        /* the token lower-cased after the previous one and a space: the bigram, whose second
         * half is the unigram */
        Py_ssize_t at = prev_start >= 0 ? prev_len + 1 : 0;
        for (Py_ssize_t j = 0; j < size; j++) {
            scratch[at + j] = WORD_CHAR[text[start + j]];
        }
        columns[(*count)++] = column_of(murmur3(scratch + at, size), n);
        if (prev_start >= 0) {
            columns[(*count)++] = column_of(murmur3(scratch, at + size), n);
            memmove(scratch, scratch + at, (size_t)size);
        }
        prev_start = start;
        prev_len = size;
        scratch[size] = ' ';
    }
}

/* Appends the char_wb 3-5 gram columns of text[0:len] (plus offset) to columns[*count...].
 * A word of w characters is padded to w + 2 and gives at most 3 (w + 2) windows; the words
 * and the spaces between them fill len, so the words hold at most len characters and number at
 * most (len + 1) / 2: at most 3 (len + len + 1) = 6 len + 3 columns. The scratch buffer holds
 * one padded word (len + 2 bytes). */
static void
char_columns(const unsigned char *text, Py_ssize_t len, uint32_t n, uint32_t offset,
             uint32_t *columns, Py_ssize_t *count, unsigned char *scratch)
{
    Py_ssize_t i = 0;
    while (i < len) {
        if (SPLIT_SPACE[text[i]]) {
            i++;
            continue;
        }
        Py_ssize_t size = 1; /* the leading space */
        scratch[0] = ' ';
        while (i < len && !SPLIT_SPACE[text[i]]) {
            unsigned char c = text[i++];
            scratch[size++] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
        }
        scratch[size++] = ' ';
        /* every window of 3, 4 and 5 bytes inside the padded word (in any order: the columns
         * are sorted afterwards); the 4- and 5-byte windows at one start share a block */
        for (Py_ssize_t at = 0; at + 3 <= size; at++) {
            const unsigned char *p = scratch + at;
            columns[(*count)++] = offset + column_of(murmur3_of_3(p), n);
            if (at + 4 <= size) {
                uint32_t block = murmur3_block(p);
                columns[(*count)++] = offset + column_of(finish(block, 4), n);
                if (at + 5 <= size) {
                    columns[(*count)++] =
                        offset + column_of(finish(block ^ scramble((uint32_t)p[4]), 5), n);
                }
            }
        }
    }
}

/* Counts below this take their value from a table worked out once per row. */
#define SMALL_COUNTS 16

/* Counts the sorted columns[0:count] and writes the distinct columns and their block-normalised
 * values into two new bytes objects; returns the (columns, values) tuple or NULL. The distinct
 * columns are moved to the front of ``sorted`` (each written at or before where it was read)
 * and their counts kept in ``counts`` (room for ``count`` items). */
static PyObject *
counted(uint32_t *sorted, uint32_t *counts, Py_ssize_t count, uint32_t char_at, uint32_t meta_at)
{
    Py_ssize_t distinct = 0;
    double squares[3] = {0.0, 0.0, 0.0};
    for (Py_ssize_t i = 0; i < count;) {
        uint32_t column = sorted[i];
        Py_ssize_t j = i + 1;
        while (j < count && sorted[j] == column) {
            j++;
        }
        double n = (double)(j - i);
        int block = column < char_at ? 0 : (column < meta_at ? 1 : 2);
        squares[block] += n * n; /* in column order, as numpy's bincount adds them */
        sorted[distinct] = column;
        counts[distinct] = (uint32_t)(j - i); /* <= count <= MAX_COLUMNS */
        distinct++;
        i = j;
    }
    double norms[3];
    /* count / norm for the small counts: the same division, done once per block */
    float small[3][SMALL_COUNTS];
    for (int b = 0; b < 3; b++) {
        norms[b] = sqrt(squares[b]);
        for (int c = 1; c < SMALL_COUNTS; c++) {
            small[b][c] = norms[b] > 0.0 ? (float)((double)c / norms[b]) : 0.0f;
        }
    }
    PyObject *columns = PyBytes_FromStringAndSize(NULL, distinct * (Py_ssize_t)sizeof(int32_t));
    PyObject *values = PyBytes_FromStringAndSize(NULL, distinct * (Py_ssize_t)sizeof(float));
    if (columns == NULL || values == NULL) {
        Py_XDECREF(columns);
        Py_XDECREF(values);
        return NULL;
    }
    /* the columns are < 2**31 (check_sizes): the same bits as int32 */
    memcpy(PyBytes_AS_STRING(columns), sorted, (size_t)distinct * sizeof(uint32_t));
    char *value_bytes = PyBytes_AS_STRING(values);
    for (Py_ssize_t k = 0; k < distinct; k++) {
        uint32_t column = sorted[k], n = counts[k];
        int block = column < char_at ? 0 : (column < meta_at ? 1 : 2);
        float value = n < SMALL_COUNTS ? small[block][n] : (float)((double)n / norms[block]);
        memcpy(value_bytes + k * (Py_ssize_t)sizeof(float), &value, sizeof(float));
    }
    PyObject *pair = PyTuple_Pack(2, columns, values);
    Py_DECREF(columns);
    Py_DECREF(values);
    return pair;
}

/* The three block sizes: each 1 .. 2**31 - 1, their sum too (the columns are int32). */
static int
check_sizes(Py_ssize_t word_n, Py_ssize_t char_n, Py_ssize_t meta_n)
{
    if (word_n < 1 || char_n < 1 || meta_n < 1 || word_n > (Py_ssize_t)INT32_MAX ||
        char_n > (Py_ssize_t)INT32_MAX || meta_n > (Py_ssize_t)INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "the block sizes must be within 1 .. 2**31 - 1");
        return -1;
    }
    if (word_n + char_n + meta_n > (Py_ssize_t)INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "the blocks' columns must fit in int32");
        return -1;
    }
    return 0;
}

/* A list's items as a new tuple (held while they are read), or NULL with TypeError. */
static PyObject *
list_items(PyObject *list, const char *name)
{
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list of str", name);
        return NULL;
    }
    return PyList_AsTuple(list);
}

/* The UTF-8 bytes of items[i] (strict: a lone surrogate raises UnicodeEncodeError), or NULL. */
static const unsigned char *
utf8_of(PyObject *items, Py_ssize_t i, Py_ssize_t *size)
{
    PyObject *item = PyTuple_GET_ITEM(items, i);
    if (!PyUnicode_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "the tokens must be str");
        return NULL;
    }
    return (const unsigned char *)PyUnicode_AsUTF8AndSize(item, size);
}

/* Appends the meta block's columns (one a token) of the str ``tokens``; 0, or -1 on an error,
 * or 1 when a token is too long to be handled here. */
static int
meta_columns(PyObject *tokens, uint32_t n, uint32_t offset, uint32_t *columns, Py_ssize_t *count)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tokens); i++) {
        Py_ssize_t size;
        const unsigned char *utf8 = utf8_of(tokens, i, &size);
        if (utf8 == NULL) {
            return -1;
        }
        if (size > MAX_TOKEN) {
            return 1;
        }
        columns[(*count)++] = offset + column_of(murmur3(utf8, size), n);
    }
    return 0;
}

/* The (columns, values) of columns[0:count] (all < meta_at + meta_n): sorted, counted and
 * normalised per block. */
static PyObject *
sorted_row(Buffers *b, Py_ssize_t count, uint32_t char_at, uint32_t meta_at, uint32_t meta_n)
{
    uint32_t top = meta_at + meta_n - 1; /* the largest column */
    int bits = 0;
    while (bits < 32 && (top >> bits) != 0) {
        bits++;
    }
    uint32_t *sorted = radix_sort(b->columns, b->spare, count, bits);
    uint32_t *other = sorted == b->columns ? b->spare : b->columns;
    return counted(sorted, other, count, char_at, meta_at);
}

/* Allocates the columns, spare and scratch buffers; -1 with MemoryError. */
static int
buffers_alloc(Buffers *b, Py_ssize_t capacity, Py_ssize_t scratch)
{
    b->columns = PyMem_New(uint32_t, (size_t)capacity);
    b->spare = PyMem_New(uint32_t, (size_t)capacity);
    b->scratch = PyMem_Malloc((size_t)scratch);
    if (b->columns == NULL || b->spare == NULL || b->scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *
ascii_row(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *doc, *meta;
    Py_ssize_t char_chars, word_n, char_n, meta_n;
    if (!PyArg_ParseTuple(args, "UnOnnn:ascii_row", &doc, &char_chars, &meta, &word_n, &char_n,
                          &meta_n)) {
        return NULL;
    }
    if (check_sizes(word_n, char_n, meta_n) < 0) {
        return NULL;
    }
    if (char_chars < 0) {
        PyErr_SetString(PyExc_ValueError, "char_chars must not be negative");
        return NULL;
    }
    PyObject *tokens = list_items(meta, "meta");
    if (tokens == NULL) {
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(doc) < 0) {
        Py_DECREF(tokens);
        return NULL;
    }
#endif
    Py_ssize_t len = PyUnicode_GET_LENGTH(doc), n_meta = PyTuple_GET_SIZE(tokens);
    Py_ssize_t char_len = char_chars < len ? char_chars : len;
    if (!PyUnicode_IS_ASCII(doc) || len > MAX_DOC || n_meta > MAX_META) {
        Py_DECREF(tokens);
        Py_RETURN_NONE;
    }
    /* word block <= len + 1, char block <= 6 char_len + 3 (see word_columns and char_columns),
     * meta one each: under 2**26 by the limits above */
    Py_ssize_t capacity = (len + 1) + (6 * char_len + 3) + n_meta;
    if (capacity > MAX_COLUMNS) {
        Py_DECREF(tokens);
        Py_RETURN_NONE;
    }
    const unsigned char *text = PyUnicode_1BYTE_DATA(doc);
    Buffers b = {NULL, NULL, NULL};
    PyObject *result = NULL;
    if (buffers_alloc(&b, capacity, len + 3) == 0) {
        uint32_t char_at = (uint32_t)word_n, meta_at = (uint32_t)(word_n + char_n);
        Py_ssize_t count = 0;
        word_columns(text, len, (uint32_t)word_n, b.columns, &count, b.scratch);
        char_columns(text, char_len, (uint32_t)char_n, char_at, b.columns, &count, b.scratch);
        int done = meta_columns(tokens, (uint32_t)meta_n, meta_at, b.columns, &count);
        if (done == 0) {
            result = sorted_row(&b, count, char_at, meta_at, (uint32_t)meta_n);
        }
        else if (done == 1) {
            result = Py_NewRef(Py_None);
        }
    }
    buffers_free(&b);
    Py_DECREF(tokens);
    return result;
}

/* Appends the char_wb 3-5 gram columns of one word given as UTF-8 (``utf8[0:size]``, already
 * lower-cased): the word padded with a space on both sides into scratch (size + 2 bytes), the
 * start of each of its characters in starts (at most size + 3 entries with the end), then each
 * window of 3, 4 and 5 characters hashed over its bytes. At most 3 (size + 2) columns. */
static void
utf8_char_columns(const unsigned char *utf8, Py_ssize_t size, uint32_t n, uint32_t offset,
                  uint32_t *columns, Py_ssize_t *count, unsigned char *scratch,
                  Py_ssize_t *starts)
{
    scratch[0] = ' ';
    memcpy(scratch + 1, utf8, (size_t)size);
    scratch[size + 1] = ' ';
    Py_ssize_t total = size + 2, chars = 0;
    for (Py_ssize_t at = 0; at < total; at++) {
        if ((scratch[at] & 0xC0) != 0x80) { /* not a continuation byte: a character starts */
            starts[chars++] = at;
        }
    }
    starts[chars] = total;
    for (Py_ssize_t width = 3; width <= 5 && width <= chars; width++) {
        for (Py_ssize_t at = 0; at + width <= chars; at++) {
            Py_ssize_t begin = starts[at];
            columns[(*count)++] =
                offset + column_of(murmur3(scratch + begin, starts[at + width] - begin), n);
        }
    }
}

static PyObject *
token_blocks(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *token_list, *word_list, *meta_list;
    Py_ssize_t word_n, char_n, meta_n;
    if (!PyArg_ParseTuple(args, "OOOnnn:token_blocks", &token_list, &word_list, &meta_list,
                          &word_n, &char_n, &meta_n)) {
        return NULL;
    }
    if (check_sizes(word_n, char_n, meta_n) < 0) {
        return NULL;
    }
    PyObject *tokens = list_items(token_list, "tokens");
    PyObject *words = tokens != NULL ? list_items(word_list, "char_words") : NULL;
    PyObject *meta = words != NULL ? list_items(meta_list, "meta") : NULL;
    if (meta == NULL) {
        Py_XDECREF(tokens);
        Py_XDECREF(words);
        return NULL;
    }
    Buffers b = {NULL, NULL, NULL};
    Py_ssize_t *starts = NULL;
    PyObject *result = NULL;
    Py_ssize_t n_tokens = PyTuple_GET_SIZE(tokens), n_words = PyTuple_GET_SIZE(words);
    Py_ssize_t n_meta = PyTuple_GET_SIZE(meta);
    if (n_tokens > MAX_DOC || n_words > MAX_DOC || n_meta > MAX_META) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    /* the longest token and word (UTF-8 bytes) and the columns' bound, each checked against
     * a limit as it grows (no overflow: every addend is at most MAX_TOKEN or MAX_COLUMNS) */
    Py_ssize_t longest_token = 0, longest_word = 0, capacity = 2 * n_tokens + n_meta;
    for (Py_ssize_t i = 0; i < n_tokens + n_words; i++) {
        int is_token = i < n_tokens;
        Py_ssize_t size;
        if (utf8_of(is_token ? tokens : words, is_token ? i : i - n_tokens, &size) == NULL) {
            goto done;
        }
        if (size > MAX_TOKEN || capacity > MAX_COLUMNS) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (is_token) {
            longest_token = size > longest_token ? size : longest_token;
        }
        else {
            longest_word = size > longest_word ? size : longest_word;
            capacity += 3 * (size + 2);
        }
    }
    if (capacity > MAX_COLUMNS) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    /* scratch: a bigram (two tokens and a space) or a padded word */
    Py_ssize_t scratch = 2 * longest_token + 1 > longest_word + 2 ? 2 * longest_token + 1
                                                                  : longest_word + 2;
    starts = PyMem_New(Py_ssize_t, (size_t)longest_word + 3);
    if (starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (buffers_alloc(&b, capacity, scratch) < 0) {
        goto done;
    }
    uint32_t char_at = (uint32_t)word_n, meta_at = (uint32_t)(word_n + char_n);
    Py_ssize_t count = 0, last_size = 0;
    const unsigned char *last = NULL;
    for (Py_ssize_t i = 0; i < n_tokens; i++) { /* sizes and UTF-8 are cached: no failure */
        Py_ssize_t size;
        const unsigned char *utf8 = utf8_of(tokens, i, &size);
        if (utf8 == NULL) {
            goto done;
        }
        b.columns[count++] = column_of(murmur3(utf8, size), (uint32_t)word_n);
        if (last != NULL) {
            memcpy(b.scratch, last, (size_t)last_size);
            b.scratch[last_size] = ' ';
            memcpy(b.scratch + last_size + 1, utf8, (size_t)size);
            b.columns[count++] = column_of(murmur3(b.scratch, last_size + 1 + size),
                                           (uint32_t)word_n);
        }
        last = utf8;
        last_size = size;
    }
    for (Py_ssize_t i = 0; i < n_words; i++) {
        Py_ssize_t size;
        const unsigned char *utf8 = utf8_of(words, i, &size);
        if (utf8 == NULL) {
            goto done;
        }
        utf8_char_columns(utf8, size, (uint32_t)char_n, char_at, b.columns, &count, b.scratch,
                          starts);
    }
    int meta_done = meta_columns(meta, (uint32_t)meta_n, meta_at, b.columns, &count);
    if (meta_done == 0) {
        result = sorted_row(&b, count, char_at, meta_at, (uint32_t)meta_n);
    }
    else if (meta_done == 1) {
        result = Py_NewRef(Py_None);
    }
done:
    buffers_free(&b);
    PyMem_Free(starts);
    Py_DECREF(tokens);
    Py_DECREF(words);
    Py_DECREF(meta);
    return result;
}

/* Writes the UTF-8 bytes of code point ``c`` (not a surrogate) at out; returns their number
 * (1 to 4). */
static inline Py_ssize_t
put_utf8(Py_UCS4 c, unsigned char *out)
{
    if (c < 0x80) {
        out[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | (c >> 6));
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (c >> 12));
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (c >> 18));
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* What sre's ``\w`` matches in a str pattern (Py_UNICODE_ISALNUM or "_"). */
static inline int
is_word(Py_UCS4 c)
{
    return c < 128 ? WORD_CHAR[c] != 0 : Py_UNICODE_ISALNUM(c);
}

/* Appends the word block's columns of the str ``text`` (kind, data, len code points): the runs
 * of two or more word characters (``\w\w++``, case kept: the caller lower-cased the text),
 * each UTF-8 encoded and hashed, and each neighbouring pair joined by one space. Writes at most
 * len + 1 columns (as word_columns). The scratch buffer holds a bigram: two disjoint runs of
 * the text and a space, at most 4 len + 1 bytes. */
static void
unicode_word_columns(int kind, const void *data, Py_ssize_t len, uint32_t n, uint32_t *columns,
                     Py_ssize_t *count, unsigned char *scratch)
{
    Py_ssize_t prev_bytes = -1; /* UTF-8 bytes of the previous token, -1 before the first */
    Py_ssize_t i = 0;
    while (i < len) {
        if (!is_word(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < len && is_word(PyUnicode_READ(kind, data, i))) {
            i++;
        }
        if (i - start < 2) {
            continue;
        }
        Py_ssize_t at = prev_bytes >= 0 ? prev_bytes + 1 : 0, size = 0;
        for (Py_ssize_t j = start; j < i; j++) {
            size += put_utf8(PyUnicode_READ(kind, data, j), scratch + at + size);
        }
        columns[(*count)++] = column_of(murmur3(scratch + at, size), n);
        if (prev_bytes >= 0) {
            columns[(*count)++] = column_of(murmur3(scratch, at + size), n);
            memmove(scratch, scratch + at, (size_t)size);
        }
        prev_bytes = size;
        scratch[size] = ' ';
    }
}

/* Appends the char_wb 3-5 gram columns of the str ``text`` (kind, data, len code points; no
 * surrogate): its words split at Py_UNICODE_ISSPACE (as str.split()), each UTF-8 encoded into
 * word (at most 4 len bytes) and its windows hashed by utf8_char_columns (scratch: 4 len + 2
 * bytes, starts: 4 len + 3 entries). At most 6 len + 3 columns (as char_columns). */
static void
unicode_char_columns(int kind, const void *data, Py_ssize_t len, uint32_t n, uint32_t offset,
                     uint32_t *columns, Py_ssize_t *count, unsigned char *word,
                     unsigned char *scratch, Py_ssize_t *starts)
{
    Py_ssize_t i = 0;
    while (i < len) {
        if (Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t size = 0;
        while (i < len) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (Py_UNICODE_ISSPACE(c)) {
                break;
            }
            size += put_utf8(c, word + size);
            i++;
        }
        utf8_char_columns(word, size, n, offset, columns, count, scratch, starts);
    }
}

/* Whether the str holds a surrogate code point (which strict UTF-8 cannot encode). */
static int
has_surrogate(int kind, const void *data, Py_ssize_t len)
{
    if (kind == PyUnicode_1BYTE_KIND) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0xD800 && c <= 0xDFFF) {
            return 1;
        }
    }
    return 0;
}

/* 0 when ``arg`` is a str ready to be read (PyUnicode_KIND, _DATA); else -1 with a TypeError
 * saying that ``function`` takes a str (or the error of making it ready). */
static int
str_argument(PyObject *arg, const char *function)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s takes a str", function);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(arg) < 0) {
        return -1;
    }
#endif
    return 0;
}

/* One bit per code point, for distinct_non_ascii: all clear between calls (each call clears
 * the bits it set before returning; the GIL is held throughout, so calls do not interleave). */
static unsigned char SEEN[(0x10FFFF >> 3) + 1];

static PyObject *
distinct_non_ascii(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (str_argument(arg, "distinct_non_ascii") < 0) {
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    if (PyUnicode_IS_ASCII(arg)) {
        return PyUnicode_New(0, 0);
    }
    /* at most len distinct characters, and never more than there are code points */
    Py_ssize_t room = len < 0x110000 ? len : 0x110000;
    Py_UCS4 *found = PyMem_New(Py_UCS4, (size_t)room);
    if (found == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i); /* <= 0x10FFFF in any str */
        if (c < 128) {
            continue;
        }
        unsigned char bit = (unsigned char)(1u << (c & 7));
        if (!(SEEN[c >> 3] & bit)) {
            SEEN[c >> 3] |= bit;
            found[n++] = c; /* n < room: each code point is added once */
        }
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        SEEN[found[k] >> 3] = 0;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, found, n);
    PyMem_Free(found);
    return result;
}

static PyObject *
local_start(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "Unn:local_start", &text, &lo, &hi)) {
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
#endif
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (lo < 0 || hi > len || lo > hi) {
        PyErr_SetString(PyExc_ValueError, "local_start needs 0 <= lo <= hi <= len(text)");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t start = hi;
    while (start > lo) {
        Py_UCS4 c = PyUnicode_READ(kind, data, start - 1);
        if (!(is_word(c) || c == '.' || c == '+' || c == '-')) {
            break;
        }
        start--;
    }
    return PyLong_FromSsize_t(start);
}

static PyObject *
zero_digits(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (str_argument(arg, "zero_digits") < 0) {
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_ssize_t first = 0;
    while (first < len && !Py_UNICODE_ISDECIMAL(PyUnicode_READ(kind, data, first))) {
        first++;
    }
    if (first == len) {
        return Py_NewRef(arg);
    }
    /* a copy of the same kind (len items of kind bytes: no overflow, the str exists) */
    void *copy = PyMem_Malloc((size_t)len * (size_t)kind);
    if (copy == NULL) {
        return PyErr_NoMemory();
    }
    memcpy(copy, data, (size_t)len * (size_t)kind);
    for (Py_ssize_t i = first; i < len; i++) {
        if (Py_UNICODE_ISDECIMAL(PyUnicode_READ(kind, copy, i))) {
            PyUnicode_WRITE(kind, copy, i, '0');
        }
    }
    /* the narrowest str of those characters (a digit may have been the widest one) */
    PyObject *result = PyUnicode_FromKindAndData(kind, copy, len);
    PyMem_Free(copy);
    return result;
}

static PyObject *
unicode_row(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *word_text, *char_text, *meta;
    Py_ssize_t word_n, char_n, meta_n;
    if (!PyArg_ParseTuple(args, "UUOnnn:unicode_row", &word_text, &char_text, &meta, &word_n,
                          &char_n, &meta_n)) {
        return NULL;
    }
    if (check_sizes(word_n, char_n, meta_n) < 0) {
        return NULL;
    }
    PyObject *tokens = list_items(meta, "meta");
    if (tokens == NULL) {
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(word_text) < 0 || PyUnicode_READY(char_text) < 0) {
        Py_DECREF(tokens);
        return NULL;
    }
#endif
    Py_ssize_t len = PyUnicode_GET_LENGTH(word_text), char_len = PyUnicode_GET_LENGTH(char_text);
    Py_ssize_t n_meta = PyTuple_GET_SIZE(tokens);
    int kind = PyUnicode_KIND(word_text), char_kind = PyUnicode_KIND(char_text);
    const void *data = PyUnicode_DATA(word_text), *char_data = PyUnicode_DATA(char_text);
    if (len > MAX_DOC || char_len > MAX_DOC || n_meta > MAX_META ||
        has_surrogate(char_kind, char_data, char_len)) {
        Py_DECREF(tokens);
        Py_RETURN_NONE;
    }
    /* word block <= len + 1, char block <= 6 char_len + 3, meta one each: under 2**26 */
    Py_ssize_t capacity = (len + 1) + (6 * char_len + 3) + n_meta;
    if (capacity > MAX_COLUMNS) {
        Py_DECREF(tokens);
        Py_RETURN_NONE;
    }
    /* scratch: a bigram (<= 4 len + 1 bytes) or a padded char word (<= 4 char_len + 2) */
    Py_ssize_t longest = len > char_len ? len : char_len;
    Py_ssize_t scratch = 4 * longest + 8;
    Buffers b = {NULL, NULL, NULL};
    unsigned char *word = PyMem_Malloc((size_t)(4 * char_len + 8));
    Py_ssize_t *starts = PyMem_New(Py_ssize_t, (size_t)(4 * char_len + 8));
    PyObject *result = NULL;
    if (word == NULL || starts == NULL) {
        PyErr_NoMemory();
    }
    else if (buffers_alloc(&b, capacity, scratch) == 0) {
        uint32_t char_at = (uint32_t)word_n, meta_at = (uint32_t)(word_n + char_n);
        Py_ssize_t count = 0;
        unicode_word_columns(kind, data, len, (uint32_t)word_n, b.columns, &count, b.scratch);
        unicode_char_columns(char_kind, char_data, char_len, (uint32_t)char_n, char_at,
                             b.columns, &count, word, b.scratch, starts);
        int done = meta_columns(tokens, (uint32_t)meta_n, meta_at, b.columns, &count);
        if (done == 0) {
            result = sorted_row(&b, count, char_at, meta_at, (uint32_t)meta_n);
        }
        else if (done == 1) {
            result = Py_NewRef(Py_None);
        }
    }
    buffers_free(&b);
    PyMem_Free(word);
    PyMem_Free(starts);
    Py_DECREF(tokens);
    return result;
}

/* Fills *view with a C-contiguous buffer of ``ndim`` dimensions of 4-byte items of the struct
 * format ``code`` ('f' or 'i'); ``writable`` asks for a writable one. */
static int
get_array(PyObject *obj, Py_buffer *view, int ndim, char code, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    const char *format = view->format != NULL ? view->format : "B";
    if (format[0] == '=' || format[0] == '@' || (format[0] == '<' && PY_LITTLE_ENDIAN) ||
        (format[0] == '>' && !PY_LITTLE_ENDIAN)) {
        format++;
    }
    if (view->ndim != ndim || view->itemsize != 4 || format[0] != code || format[1] != '\0') {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous %d-d array of %s", name, ndim,
                     code == 'f' ? "float32" : "int32");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
row_sums(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *coef_obj, *index_obj, *value_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOOO:row_sums", &coef_obj, &index_obj, &value_obj, &out_obj)) {
        return NULL;
    }
    Py_buffer coef, index, value, out;
    if (get_array(coef_obj, &coef, 2, 'f', 0, "coef_t") < 0) {
        return NULL;
    }
    if (get_array(index_obj, &index, 1, 'i', 0, "indices") < 0) {
        PyBuffer_Release(&coef);
        return NULL;
    }
    if (get_array(value_obj, &value, 1, 'f', 0, "values") < 0) {
        PyBuffer_Release(&coef);
        PyBuffer_Release(&index);
        return NULL;
    }
    if (get_array(out_obj, &out, 1, 'f', 1, "out") < 0) {
        PyBuffer_Release(&coef);
        PyBuffer_Release(&index);
        PyBuffer_Release(&value);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t rows = coef.shape[0], classes = coef.shape[1], terms = index.shape[0];
    if (value.shape[0] != terms || out.shape[0] != classes) {
        PyErr_SetString(PyExc_ValueError, "indices, values, out and coef_t do not match");
        goto done;
    }
    const float *weights = coef.buf;
    const int32_t *columns = index.buf;
    const float *numbers = value.buf;
    for (Py_ssize_t i = 0; i < terms; i++) {
        if (columns[i] < 0 || columns[i] >= rows) {
            PyErr_SetString(PyExc_IndexError, "a column index is out of range");
            goto done;
        }
    }
    if (classes == 3 && terms > 0) {
        /* the shipped model's three classes: the same products and sums, in the same order,
         * held in registers (the first term starts each sum, as below) */
        const float *row = weights + (Py_ssize_t)columns[0] * 3;
        float number = numbers[0];
        float s0 = row[0] * number, s1 = row[1] * number, s2 = row[2] * number;
        for (Py_ssize_t i = 1; i < terms; i++) {
#if defined(__GNUC__)
            if (i + PREFETCH_AHEAD < terms) {
                __builtin_prefetch(weights + (Py_ssize_t)columns[i + PREFETCH_AHEAD] * 3);
            }
#endif
            row = weights + (Py_ssize_t)columns[i] * 3;
            number = numbers[i];
            float t0 = row[0] * number, t1 = row[1] * number, t2 = row[2] * number;
            s0 = s0 + t0;
            s1 = s1 + t1;
            s2 = s2 + t2;
        }
        float three[3] = {s0, s1, s2};
        memcpy(out.buf, three, sizeof(three));
        result = Py_NewRef(Py_None);
        goto done;
    }
    float local[MAX_LOCAL_CLASSES];
    float *sums = classes <= MAX_LOCAL_CLASSES ? local : PyMem_New(float, (size_t)classes);
    if (sums == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < classes; c++) {
        sums[c] = 0.0f;
    }
    for (Py_ssize_t i = 0; i < terms; i++) {
#if defined(__GNUC__)
        if (i + PREFETCH_AHEAD < terms) { /* the rows are far apart in a large array */
            __builtin_prefetch(weights + (Py_ssize_t)columns[i + PREFETCH_AHEAD] * classes);
        }
#endif
        const float *row = weights + (Py_ssize_t)columns[i] * classes;
        float number = numbers[i];
        for (Py_ssize_t c = 0; c < classes; c++) {
            float term = row[c] * number; /* rounded to float32, then added */
            /* numpy's cumsum starts from the first term itself (0.0f + -0.0f would be +0.0f) */
            sums[c] = i == 0 ? term : sums[c] + term;
        }
    }
    memcpy(out.buf, sums, (size_t)classes * sizeof(float));
    if (sums != local) {
        PyMem_Free(sums);
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&coef);
    PyBuffer_Release(&index);
    PyBuffer_Release(&value);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"ascii_row", ascii_row, METH_VARARGS,
     "ascii_row(doc, char_chars, meta, word_n, char_n, meta_n) -> (columns, values) | None\n\n"
     "The word, char_wb and meta blocks of an ASCII text's row: int32 columns and float32\n"
     "values as bytes, or None when the text is not handled here (not ASCII, too long)."},
    {"token_blocks", token_blocks, METH_VARARGS,
     "token_blocks(tokens, char_words, meta, word_n, char_n, meta_n) -> (columns, values) | None\n\n"
     "The word, char_wb and meta blocks from the word unigrams, the lower-cased words of the\n"
     "char-gram text and the meta tokens (any str): as ascii_row; None when too large."},
    {"unicode_row", unicode_row, METH_VARARGS,
     "unicode_row(word_text, char_text, meta, word_n, char_n, meta_n) -> (columns, values) | None\n\n"
     "The word, char_wb and meta blocks of any text: the word grams of ``word_text`` (lower-cased,\n"
     "accents stripped), the char grams of ``char_text`` (lower-cased): as ascii_row; None when\n"
     "too large or when ``char_text`` holds a surrogate."},
    {"distinct_non_ascii", distinct_non_ascii, METH_O,
     "distinct_non_ascii(text) -> str\n\n"
     "Each non-ASCII character of ``text`` once, in the order they first appear."},
    {"local_start", local_start, METH_VARARGS,
     "local_start(text, lo, hi) -> int\n\n"
     "Where the run of characters an address's local part may hold ([\\w.+-]) that ends at hi\n"
     "begins, not before lo."},
    {"zero_digits", zero_digits, METH_O,
     "zero_digits(text) -> str\n\n"
     "``text`` with every decimal digit (str.isdecimal, what re's \\d matches) made \"0\"."},
    {"row_sums", row_sums, METH_VARARGS,
     "row_sums(coef_t, indices, values, out) -> None\n\n"
     "out[c] = the float32 sum of coef_t[indices[i], c] * values[i], added in the row's order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "mailward.classifier._cfeat",
    "The content classifier's hashed row of an ASCII text and its sums with the model, in C.",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__cfeat(void)
{
    for (int c = 0; c < 256; c++) {
        int word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_';
        WORD_CHAR[c] = (unsigned char)(word ? c : (c >= 'A' && c <= 'Z') ? c + 32 : 0);
        SPLIT_SPACE[c] = (unsigned char)((c >= 9 && c <= 13) || (c >= 28 && c <= 32));
    }
    return PyModule_Create(&module);
}
