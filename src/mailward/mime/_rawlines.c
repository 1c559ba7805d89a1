/* mailward.mime._rawlines: two facts about a message's raw bytes, in one pass, in C.
 *
 * An optional helper (built with the others by setup.py, when a C compiler is at hand;
 * mailward.mime._rawscan uses it when it loads, and otherwise its Python ways: the patterns
 * \n--[^\n]* and \r(?!\n), which give the same answers; the tests compare them).
 *
 * dash_lines_and_bare_cr(raw) -> ([(start, end), ...], bare_cr)
 *   The lines of ``raw`` that start with "--", in order: where their dashes are and where
 *   their LF is (the end of the data when none follows); and whether a CR not followed by LF
 *   is somewhere in ``raw``.
 *
 * Why C: the regex engine walks both patterns a byte at a time (about 7 and 8 instructions a
 * byte on CRLF mail, which has a CR on every line); here each line's end and its first CR are
 * found by memchr, and only the line's first two bytes are looked at.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *
dash_lines_and_bare_cr(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const char *data = (const char *)view.buf;
    Py_ssize_t size = view.len;
    PyObject *lines = PyList_New(0);
    if (lines == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    int bare = 0;
    Py_ssize_t start = 0;
    for (;;) {
        const char *lf = memchr(data + start, '\n', (size_t)(size - start));
        Py_ssize_t end = lf == NULL ? size : lf - data;
        if (end - start >= 2 && data[start] == '-' && data[start + 1] == '-') {
            PyObject *pair = Py_BuildValue("(nn)", start, end);
            if (pair == NULL || PyList_Append(lines, pair) < 0) {
                Py_XDECREF(pair);
                Py_DECREF(lines);
                PyBuffer_Release(&view);
                return NULL;
            }
            Py_DECREF(pair);
        }
        if (!bare) {
            /* a CR before the line's last byte is followed by something other than LF; one
               just before the LF is not bare, one at the very end of the data is */
            const char *cr = memchr(data + start, '\r', (size_t)(end - start));
            if (cr != NULL && (cr - data < end - 1 || end == size)) {
                bare = 1;
            }
        }
        if (lf == NULL) {
            break;
        }
        start = end + 1;
    }
    PyBuffer_Release(&view);
    PyObject *result = Py_BuildValue("(NO)", lines, bare ? Py_True : Py_False);
    return result;
}

static PyMethodDef methods[] = {
    {"dash_lines_and_bare_cr", dash_lines_and_bare_cr, METH_O,
     "([(start, end) of each line that starts with \"--\"], whether a bare CR is there)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "mailward.mime._rawlines",
    "Lines that start with \"--\" and bare CRs of a message's raw bytes, in one pass.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__rawlines(void)
{
    return PyModule_Create(&module);
}
