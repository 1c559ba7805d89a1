/* mailward.detectors._lurescan: the lures detector's passes over a text, in C.
 *
 * An optional helper (built with the classifier's, when a C compiler is at hand;
 * mailward.detectors._lure_phrases uses it when it loads, and otherwise its Python ways:
 * the Aho-Corasick search, str.split, the regex substitution and str.translate, which give
 * the same answers; the tests compare them).
 *
 * collapse_spaces(text) -> str
 *   re.sub(r"\s+", " ", text): every run of white space (Py_UNICODE_ISSPACE, what str.split()
 *   and the regex \s take as space) replaced by one space.
 *
 * letter_runs(text, words, signs) -> [(start, end), ...]
 *   The money-bait check's currency hints: each sign character, and each whole run of the
 *   letters a-z that is one of the words, in text order (see _lure_tricks.currency_hints).
 *
 * fold_marks(text, table) -> str
 *   The rest of the lures' fold after NFKD: the characters of _lure_phrases._fold_table that it
 *   drops removed and those it maps replaced, then white space collapsed as above; one pass.
 *
 * word_start_anchors(table, words, text) -> [(start, word), ...]
 *   For every start of a word in ``text`` (its first character, or one after a character that
 *   is neither alphanumeric, str.isalnum(), nor "_": where the regex ``(?<!\w)`` holds), in
 *   text order, the longest of ``words`` that ``text`` holds there, when it holds one.
 *   ``table`` is the trie of ``words`` as _lure_phrases.prefix_table lays it out, native int32:
 *     size                 how many numbers ``node`` has,
 *     ascii[128]           where the node reached from the root by each ASCII character
 *                          starts in ``node``, or -1,
 *     node[size]           the nodes one after another, each: the index in ``words`` of the
 *                          word ending there or -1, its number of edges n, then n pairs
 *                          (character as a code point, where the node it leads to starts),
 *                          ascending by character.
 *   The root starts at 0; a word of k characters is k edges down from it.
 *
 * Why C: the anchor search by the Aho-Corasick automaton (ahocorasick_rs) follows every
 * character of the text through an automaton of ~2,900 anchors and reports the anchors
 * inside words too (half of its matches), which Python then drops one by one; in a scan, with
 * the other detectors' data in between, that was the lures detector's largest cost. Here only
 * the word starts are looked up, a few trie nodes each. The fold's steps were a str.split and
 * join (a string object for every word), a regex substitution trying a character class of
 * ~2,000 combining marks at every character, and a second regex search for look-alikes.
 *
 * Memory safety: the text is attacker-controlled, the table is the caller's. The table's size
 * is checked against its header; every node, edge and word index read from it is checked
 * against the array it indexes before use (a bad table raises ValueError); the text is read
 * below its length. Each step of a walk consumes one character of the text, so a walk ends
 * by the text's end at the latest (by the longest word's length with a table that
 * prefix_table built). fold_marks reads its bitmap only for characters below 0x10000 and its
 * pairs by their count; it writes at most one character per character read into a buffer of
 * the text's length and width, and a replacement wider than the text raises ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ASCII_ROOT 128
/* fold_marks's bitmap: one bit for each character of the Basic Multilingual Plane */
#define MARK_BITMAP (0x10000 / 8)
#define HEADER 1
/* At most this many numbers in a table (a few hundred thousand are needed). */
#define MAX_TABLE (1 << 26)

/* Latin-1 character -> 1 when it is a word character of the regex module (str.isalnum() or
 * "_", what ``\\w`` matches). */
static unsigned char WORD_1BYTE[256];
/* Latin-1 character -> 1 when it is white space (Py_UNICODE_ISSPACE). */
static unsigned char SPACE_1BYTE[256];

/* The table's arrays, their sizes checked against the table's length. */
typedef struct {
    const int32_t *ascii;
    const int32_t *node;
    int32_t size; /* numbers in node */
} Trie;

/* Fills ``trie`` from the bytes of ``table``; -1 with ValueError when the sizes disagree. */
static int
read_table(PyObject *table, Trie *trie)
{
    Py_ssize_t length = PyBytes_GET_SIZE(table);
    const char *raw = PyBytes_AS_STRING(table);
    int32_t size;
    if (length < (Py_ssize_t)sizeof(size) || ((uintptr_t)raw % sizeof(int32_t)) != 0) {
        goto bad;
    }
    memcpy(&size, raw, sizeof(size));
    if (size < 2 || size > MAX_TABLE ||
        length != (Py_ssize_t)(HEADER + ASCII_ROOT + size) * (Py_ssize_t)sizeof(int32_t)) {
        goto bad;
    }
    trie->ascii = (const int32_t *)raw + HEADER;
    trie->node = trie->ascii + ASCII_ROOT;
    trie->size = size;
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "word_start_anchors: malformed table");
    return -1;
}

/* ``at`` when a node can start there (its word index and edge count are inside the table), else
 * -2 (a bad table); -1 stays -1 (no node). */
static inline int32_t
checked(const Trie *trie, int32_t at)
{
    return at == -1 || (at >= 0 && at <= trie->size - 2) ? at : -2;
}

/* Where the node reached from the node at ``at`` by ``ch`` starts: >= 0; -1 when there is
 * none; -2 for a bad table. ``at`` is checked. */
static inline int32_t
step(const Trie *trie, int32_t at, Py_UCS4 ch)
{
    int32_t n = trie->node[at + 1];
    /* n pairs after the two numbers: inside the table (64-bit sum: no overflow) */
    if (n < 0 || (int64_t)at + 2 + 2 * (int64_t)n > trie->size) {
        return -2;
    }
    const int32_t *edge = trie->node + at + 2;
    int32_t lo = 0, hi = n;
    while (lo < hi) { /* binary search of the node's ascending characters */
        int32_t mid = lo + (hi - lo) / 2;
        Py_UCS4 label = (Py_UCS4)edge[2 * mid];
        if (label == ch) {
            return checked(trie, edge[2 * mid + 1]);
        }
        if (label < ch) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return -1;
}

/* Where the node reached from the root by ``ch`` starts (as ``step`` answers). */
static inline int32_t
from_root(const Trie *trie, Py_UCS4 ch)
{
    return ch < ASCII_ROOT ? checked(trie, trie->ascii[ch]) : step(trie, 0, ch);
}

static inline int
is_word(Py_UCS4 ch)
{
    return ch < 256 ? WORD_1BYTE[ch] : (Py_UNICODE_ISALNUM(ch) || ch == '_');
}

/* The index of the longest word of the trie that ``data`` holds from ``start`` on (its first
 * character ``ch``), -1 when none, -2 for a bad table. */
static inline int32_t
walk(const Trie *trie, int kind, const void *data, Py_ssize_t length, Py_ssize_t start,
     Py_UCS4 ch)
{
    int32_t found = -1;
    int32_t node = from_root(trie, ch);
    for (Py_ssize_t at = start + 1; node >= 0; at++) {
        int32_t term = trie->node[node]; /* node is checked: node + 1 < size */
        if (term < -1) {
            return -2;
        }
        if (term >= 0) {
            found = term; /* deeper nodes are longer words: the last one is kept */
        }
        if (at >= length) {
            break;
        }
        node = step(trie, node, PyUnicode_READ(kind, data, at));
    }
    return node == -2 ? -2 : found;
}

/* Appends (start, words[index]) to ``out``; -1 on error. */
static int
append_found(PyObject *out, Py_ssize_t start, PyObject *words, int32_t index)
{
    if (index >= PyTuple_GET_SIZE(words)) {
        PyErr_SetString(PyExc_ValueError, "word_start_anchors: malformed table");
        return -1;
    }
    PyObject *at = PyLong_FromSsize_t(start);
    if (at == NULL) {
        return -1;
    }
    PyObject *item = PyTuple_Pack(2, at, PyTuple_GET_ITEM(words, index));
    Py_DECREF(at);
    if (item == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, item);
    Py_DECREF(item);
    return failed;
}

static PyObject *
word_start_anchors(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "word_start_anchors(table: bytes, words: tuple, text: str)");
        return NULL;
    }
    Trie trie;
    if (read_table(args[0], &trie) < 0) {
        return NULL;
    }
    PyObject *words = args[1], *text = args[2];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    /* each word start: the first character, and every one after a character that is no word
     * character; the loop is written out for each width of the text's characters */
#define SCAN(TYPE)                                                                          \
    do {                                                                                    \
        const TYPE *chars = (const TYPE *)data;                                             \
        int after_word = 0;                                                                 \
        for (Py_ssize_t start = 0; start < length; start++) {                               \
            Py_UCS4 ch = chars[start];                                                      \
            if (!after_word) {                                                              \
                int32_t found = walk(&trie, kind, data, length, start, ch);                 \
                if (found == -2) {                                                          \
                    PyErr_SetString(PyExc_ValueError, "word_start_anchors: malformed table"); \
                    goto fail;                                                              \
                }                                                                           \
                if (found >= 0 && append_found(out, start, words, found) < 0) {             \
                    goto fail;                                                              \
                }                                                                           \
            }                                                                               \
            after_word = is_word(ch);                                                       \
        }                                                                                   \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) {
        SCAN(Py_UCS1);
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        SCAN(Py_UCS2);
    }
    else {
        SCAN(Py_UCS4);
    }
#undef SCAN
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* collapse_spaces for a one-byte-per-character text (ASCII or Latin-1): one pass into a
 * buffer, without a branch per character (a branch taken at every word's edges is mispredicted
 * about as often), then the result made at its size and smallest width. */
static PyObject *
collapse_ucs1(PyObject *text)
{
    const Py_UCS1 *in = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_UCS1 *buffer = PyMem_Malloc(length > 0 ? (size_t)length : 1);
    if (buffer == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t size = 0; /* size <= i < length when buffer[size] is written */
    unsigned largest = 0, prev = 0, changed = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned ch = in[i], space = SPACE_1BYTE[ch];
        buffer[size] = (Py_UCS1)(space ? ' ' : ch);
        size += !(space & prev); /* a space after a space is written over */
        changed |= space & (prev | (ch != ' '));
        unsigned kept = space ? 0 : ch;
        largest = kept > largest ? kept : largest;
        prev = space;
    }
    PyObject *out = NULL;
    if (!changed) {
        out = Py_NewRef(text);
    }
    else {
        out = PyUnicode_New(size, largest < ' ' ? ' ' : largest); /* a space is written */
        if (out != NULL) {
            memcpy(PyUnicode_1BYTE_DATA(out), buffer, (size_t)size);
        }
    }
    PyMem_Free(buffer);
    return out;
}

/* collapse_spaces(text) -> str: every run of white space (str.isspace(), what the regex \s and
 * str.split() take as space) replaced by one " "; ``text`` itself when that changes nothing. */
static PyObject *
collapse_spaces(PyObject *self, PyObject *text)
{
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "collapse_spaces(text: str)");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        return collapse_ucs1(text);
    }
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    /* first pass: the result's length and largest character (its kind must be the smallest
     * that holds them, as every str's is), and whether anything changes */
    Py_ssize_t size = 0;
    Py_UCS4 largest = 0;
    int in_space = 0, changed = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISSPACE(ch)) {
            changed |= in_space || ch != ' ';
            size += !in_space;
            in_space = 1;
        }
        else {
            largest = ch > largest ? ch : largest;
            size++;
            in_space = 0;
        }
    }
    if (!changed) {
        return Py_NewRef(text);
    }
    PyObject *out = PyUnicode_New(size, largest < ' ' ? ' ' : largest); /* a space is written */
    if (out == NULL) {
        return NULL;
    }
    int out_kind = PyUnicode_KIND(out);
    void *out_data = PyUnicode_DATA(out);
    Py_ssize_t j = 0;
    in_space = 0;
    for (Py_ssize_t i = 0; i < length; i++) { /* the same walk: j stays below size */
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISSPACE(ch)) {
            if (!in_space) {
                PyUnicode_WRITE(out_kind, out_data, j++, ' ');
            }
            in_space = 1;
        }
        else {
            PyUnicode_WRITE(out_kind, out_data, j++, ch);
            in_space = 0;
        }
    }
    return out;
}

/* fold_marks(text, table) -> str: the characters ``table`` drops left out, the ones it maps
 * replaced, then every run of white space replaced by one " " (as collapse_spaces).
 * ``table``: a bitmap of the Basic Multilingual Plane (MARK_BITMAP bytes, bit c % 8 of byte
 * c / 8 set for a character dropped or mapped), then (character, replacement) pairs of native
 * uint32, ascending by character: a marked character without a pair is dropped. */
static PyObject *
fold_marks(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "fold_marks(text: str, table: bytes)");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t table_size = PyBytes_GET_SIZE(args[1]);
    const unsigned char *marked = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    if (table_size < MARK_BITMAP || (table_size - MARK_BITMAP) % (2 * sizeof(uint32_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "fold_marks: malformed table");
        return NULL;
    }
    const unsigned char *pairs = marked + MARK_BITMAP; /* read by memcpy: no alignment needed */
    Py_ssize_t n_pairs = (table_size - MARK_BITMAP) / (Py_ssize_t)(2 * sizeof(uint32_t));
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    /* the result has at most ``length`` characters, none above the text's largest (a
     * replacement is an ASCII letter, or any character the caller chose: checked below) */
    void *buffer = PyMem_Malloc(length > 0 ? (size_t)length * (size_t)kind : 1);
    if (buffer == NULL) {
        return PyErr_NoMemory();
    }
    Py_UCS4 limit = PyUnicode_MAX_CHAR_VALUE(text);
    Py_ssize_t size = 0;
    int in_space = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= 128 && ch < 0x10000 && (marked[ch >> 3] >> (ch & 7)) & 1) {
            Py_ssize_t lo = 0, hi = n_pairs;
            int found = 0;
            while (lo < hi) { /* binary search of the pairs' ascending characters */
                Py_ssize_t mid = lo + (hi - lo) / 2;
                uint32_t pair[2];
                memcpy(pair, pairs + (size_t)mid * sizeof(pair), sizeof(pair));
                if (pair[0] == ch) {
                    ch = pair[1];
                    found = 1;
                    break;
                }
                if (pair[0] < ch) {
                    lo = mid + 1;
                }
                else {
                    hi = mid;
                }
            }
            if (!found) {
                continue; /* dropped */
            }
            if (ch > limit) {
                PyMem_Free(buffer);
                PyErr_SetString(PyExc_ValueError, "fold_marks: replacement wider than the text");
                return NULL;
            }
        }
        if (Py_UNICODE_ISSPACE(ch)) {
            if (!in_space) {
                PyUnicode_WRITE(kind, buffer, size++, ' ');
            }
            in_space = 1;
        }
        else {
            PyUnicode_WRITE(kind, buffer, size++, ch);
            in_space = 0;
        }
    }
    /* at most one character written per character read: size <= length */
    PyObject *out = PyUnicode_FromKindAndData(kind, buffer, size);
    PyMem_Free(buffer);
    return out;
}

/* 1 when ``text`` holds the ASCII ``word`` from ``start`` on (``length`` characters). */
static inline int
holds_word(int kind, const void *data, Py_ssize_t start, PyObject *word, Py_ssize_t length)
{
    const Py_UCS1 *letters = PyUnicode_1BYTE_DATA(word);
    for (Py_ssize_t i = 0; i < length; i++) {
        if (PyUnicode_READ(kind, data, start + i) != letters[i]) {
            return 0;
        }
    }
    return 1;
}

/* Appends (start, end) to ``out``; -1 on error. */
static int
append_span(PyObject *out, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *span = Py_BuildValue("(nn)", start, end);
    if (span == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, span);
    Py_DECREF(span);
    return failed;
}

/* Appends (run, end) when text[run:end], a whole run of a-z, is one of the words (compared
 * only when its length and first letter are some word's); -1 on error. */
static int
word_run(PyObject *out, PyObject *words, Py_ssize_t n_words, Py_ssize_t shortest,
         Py_ssize_t longest, uint32_t first_letters, int kind, const void *data, Py_ssize_t run,
         Py_ssize_t end)
{
    Py_ssize_t size = end - run;
    Py_UCS4 first = PyUnicode_READ(kind, data, run); /* a letter a-z */
    if (size < shortest || size > longest || !((first_letters >> (first - 'a')) & 1)) {
        return 0;
    }
    for (Py_ssize_t w = 0; w < n_words; w++) {
        PyObject *word = PyTuple_GET_ITEM(words, w);
        if (PyUnicode_GET_LENGTH(word) == size && holds_word(kind, data, run, word, size)) {
            return append_span(out, run, end);
        }
    }
    return 0;
}

/* letter_runs(text, words, signs) -> [(start, end), ...]: in text order, each character of
 * ``signs`` in ``text``, and each whole run of the letters a-z (no such letter just before or
 * after it) that is one of ``words`` (ASCII str). */
static PyObject *
letter_runs(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "letter_runs(text: str, words: tuple, signs: str)");
        return NULL;
    }
    PyObject *text = args[0], *words = args[1], *signs = args[2];
    Py_ssize_t n_words = PyTuple_GET_SIZE(words);
    for (Py_ssize_t w = 0; w < n_words; w++) {
        PyObject *word = PyTuple_GET_ITEM(words, w);
        if (!PyUnicode_Check(word) || !PyUnicode_IS_ASCII(word)) {
            PyErr_SetString(PyExc_TypeError, "letter_runs: the words must be ASCII str");
            return NULL;
        }
    }
    /* a run is compared with the words only when its length and first letter are some word's */
    Py_ssize_t shortest = PY_SSIZE_T_MAX, longest = 0;
    uint32_t first_letters = 0; /* bit c - 'a' for each word's first letter */
    for (Py_ssize_t w = 0; w < n_words; w++) {
        PyObject *word = PyTuple_GET_ITEM(words, w);
        Py_ssize_t size = PyUnicode_GET_LENGTH(word);
        Py_UCS1 first = size > 0 ? PyUnicode_1BYTE_DATA(word)[0] : 0;
        shortest = size < shortest ? size : shortest;
        longest = size > longest ? size : longest;
        first_letters |= first >= 'a' && first <= 'z' ? 1u << (first - 'a') : 0;
    }
    /* the ASCII signs as a bitmap; the others compared one by one */
    uint64_t ascii_signs[2] = {0, 0};
    int kind = PyUnicode_KIND(text), sign_kind = PyUnicode_KIND(signs);
    const void *data = PyUnicode_DATA(text), *sign_data = PyUnicode_DATA(signs);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), n_signs = PyUnicode_GET_LENGTH(signs);
    for (Py_ssize_t k = 0; k < n_signs; k++) {
        Py_UCS4 sign = PyUnicode_READ(sign_kind, sign_data, k);
        if (sign < 128) {
            ascii_signs[sign >> 6] |= (uint64_t)1 << (sign & 63);
        }
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    /* the loop is written out for each width of the text's characters */
#define RUNS(TYPE)                                                                          \
    do {                                                                                    \
        const TYPE *chars = (const TYPE *)data;                                             \
        Py_ssize_t run = -1; /* where the current run of a-z started, or -1 */              \
        for (Py_ssize_t i = 0; i < length; i++) {                                           \
            Py_UCS4 ch = chars[i];                                                          \
            if (ch - 'a' <= 'z' - 'a') {                                                    \
                run = run < 0 ? i : run;                                                    \
                continue;                                                                   \
            }                                                                               \
            if (run >= 0) {                                                                 \
                if (word_run(out, words, n_words, shortest, longest, first_letters, kind,   \
                             data, run, i) < 0) {                                           \
                    goto fail;                                                              \
                }                                                                           \
                run = -1;                                                                   \
            }                                                                               \
            int sign = 0;                                                                   \
            if (ch < 128) {                                                                 \
                sign = (int)((ascii_signs[ch >> 6] >> (ch & 63)) & 1);                      \
            }                                                                               \
            else {                                                                          \
                for (Py_ssize_t k = 0; k < n_signs && !sign; k++) {                         \
                    sign = PyUnicode_READ(sign_kind, sign_data, k) == ch;                   \
                }                                                                           \
            }                                                                               \
            if (sign && append_span(out, i, i + 1) < 0) {                                   \
                goto fail;                                                                  \
            }                                                                               \
        }                                                                                   \
        if (run >= 0 && word_run(out, words, n_words, shortest, longest, first_letters,     \
                                 kind, data, run, length) < 0) {                            \
            goto fail;                                                                      \
        }                                                                                   \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) {
        RUNS(Py_UCS1);
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        RUNS(Py_UCS2);
    }
    else {
        RUNS(Py_UCS4);
    }
#undef RUNS
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"letter_runs", (PyCFunction)(void (*)(void))letter_runs, METH_FASTCALL,
     "letter_runs(text, words, signs) -> [(start, end), ...]\n\n"
     "Each character of signs in text, and each whole run of the letters a-z that is one of\n"
     "words, in text order."},
    {"fold_marks", (PyCFunction)(void (*)(void))fold_marks, METH_FASTCALL,
     "fold_marks(text, table) -> str\n\n"
     "The characters table drops left out and the ones it maps replaced, then every run of\n"
     "white space replaced by one space."},
    {"collapse_spaces", collapse_spaces, METH_O,
     "collapse_spaces(text) -> str\n\n"
     "Every run of white space (str.isspace) replaced by one space: re.sub(r'\\s+', ' ', text)."},
    {"word_start_anchors", (PyCFunction)(void (*)(void))word_start_anchors, METH_FASTCALL,
     "word_start_anchors(table, words, text) -> [(start, word), ...]\n\n"
     "At each word start of text, in order, the longest of words found there (table: their\n"
     "trie, see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "mailward.detectors._lurescan",
    "The lure anchors at the word starts of a text, in C.",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__lurescan(void)
{
    for (int c = 0; c < 256; c++) {
        WORD_1BYTE[c] = (unsigned char)(Py_UNICODE_ISALNUM((Py_UCS4)c) || c == '_');
    }
    for (int c = 0; c < 256; c++) {
        SPACE_1BYTE[c] = (unsigned char)(Py_UNICODE_ISSPACE((Py_UCS4)c) ? 1 : 0);
    }
    return PyModule_Create(&module);
}
