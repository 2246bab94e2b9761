/* A schema-specialised scanner for ImageNet-AB XML files.
 *
 * lxml (imagenet_ab.py) is the reference parser and the source of every error message. This
 * scanner reads the narrow XML the release is written in (ASCII, no attributes, entities,
 * comments, CDATA or mixed content) and walks the tree with exactly the rules of the lxml path,
 * building the same Python values. Anything else, from an unknown encoding to a value a check
 * would refuse, makes scan() return None, and the caller parses that file with lxml. So a
 * scanned record always equals the lxml record; the scanner only ever decides how fast.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#define FLOAT32_MAX 3.4028234663852886e38
#define MAX_DEPTH 64
#define MAX_BYTES (1 << 20)

typedef struct {
    const char *tag;
    Py_ssize_t tag_len;
    const char *text; /* the element's text before its first child (leaves: all of it) */
    Py_ssize_t text_len;
    int first_child, last_child, next_sibling, children;
} Node;

/* A function that returns NULL (or -1) with no exception set found the input outside what the
 * scanner reads: scan() then returns None and the caller parses the file with lxml. */
typedef struct {
    Node *nodes;
    int count;
    /* NULL: mouse-trace points as dicts. A bytearray: points appended to it packed, as
     * (int64 time_ms, double x, double y) in native byte order, each block's number of points
     * appended to ``counts`` (a list), and its mouse_trace None. */
    PyObject *packed, *counts;
} Tree;

static PyObject *k_image_id, *k_wnid, *k_click_point, *k_annotations, *k_width, *k_height, *k_depth,
    *k_source_database, *k_segmented, *k_objects;
static PyObject *k_x, *k_y, *k_time_ms, *k_action, *k_name, *k_pose, *k_truncated, *k_difficult,
    *k_bbox, *k_assignment_id, *k_hit_id, *k_worker_id, *k_selected, *k_selected_count, *k_click,
    *k_clicks, *k_estimate_time_ms, *k_hovers, *k_mouse_trace, *k_image_width, *k_image_height,
    *k_original_image_width, *k_original_image_height, *k_image_position, *k_raw;

#define TAG_IS(node, literal) \
    ((node)->tag_len == (Py_ssize_t)(sizeof(literal) - 1) && memcmp((node)->tag, literal, sizeof(literal) - 1) == 0)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* ------------------------------------------------------------------ building the tree */

static const char *DECLARATIONS[] = {
    "<?xml version=\"1.0\"?>",
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version='1.0'?>",
    "<?xml version='1.0' encoding='utf-8'?>",
    "<?xml version='1.0' encoding='UTF-8'?>",
    NULL,
};

/* What the tokeniser checks in content: REFUSED bytes (non-ASCII, control characters but \t \n
 * \r, '&' for entities) and '>' (for "]]>", not allowed in content). Filled in at import. */
enum { PLAIN = 0, REFUSED = 1, CLOSE = 2 };
static unsigned char BYTE_CLASS[256];

static void init_byte_class(void) {
    for (int c = 0; c < 256; c++) BYTE_CLASS[c] = (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) ? REFUSED : PLAIN;
    BYTE_CLASS['&'] = REFUSED;
    BYTE_CLASS['>'] = CLOSE;
}

static int only_space(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

/* Tokenise into tree->nodes (node 0 is the root); 0 on success, -1 when unrecognised. */
static int build_tree(const char *s, Py_ssize_t n, Tree *tree) {
    Py_ssize_t i = 0;
    int stack[MAX_DEPTH];
    int depth = 0;
    if (n >= 5 && memcmp(s, "<?xml", 5) == 0) {
        int known = 0;
        for (const char **d = DECLARATIONS; *d; d++) {
            Py_ssize_t len = (Py_ssize_t)strlen(*d);
            if (n >= len && memcmp(s, *d, len) == 0) {
                i = len;
                known = 1;
                break;
            }
        }
        if (!known) return -1;
    }
    while (i < n && is_space(s[i])) i++;
    if (i >= n || s[i] != '<') return -1;
    for (;;) {
        /* at a '<' */
        if (i + 1 >= n) return -1;
        if (s[i + 1] == '/') { /* end tag: must close the open element */
            if (depth == 0) return -1;
            Node *open = &tree->nodes[stack[depth - 1]];
            Py_ssize_t start = i + 2;
            if (start + open->tag_len >= n || memcmp(s + start, open->tag, open->tag_len) != 0 ||
                s[start + open->tag_len] != '>')
                return -1;
            i = start + open->tag_len + 1;
            depth--;
            if (depth == 0) break;
        } else { /* start tag: a plain name, no attributes, not self-closing */
            if (!is_name_start(s[i + 1])) return -1;
            Py_ssize_t start = i + 1, j = start + 1;
            while (j < n && is_name_char(s[j])) j++;
            if (j >= n || s[j] != '>') return -1;
            if (depth == MAX_DEPTH) return -1;
            int index = tree->count++;
            Node *node = &tree->nodes[index];
            node->tag = s + start;
            node->tag_len = j - start;
            node->text = NULL;
            node->text_len = 0;
            node->first_child = node->last_child = node->next_sibling = -1;
            node->children = 0;
            if (depth > 0) {
                Node *parent = &tree->nodes[stack[depth - 1]];
                /* mixed content: text before a child, read by nobody, is outside what we read */
                if (parent->text && !only_space(parent->text, parent->text_len)) return -1;
                if (parent->last_child >= 0)
                    tree->nodes[parent->last_child].next_sibling = index;
                else
                    parent->first_child = index;
                parent->last_child = index;
                parent->children++;
            }
            stack[depth++] = index;
            i = j + 1;
        }
        /* the content up to the next '<' */
        Py_ssize_t start = i;
        for (; i < n && s[i] != '<'; i++) { /* one table load per byte */
            unsigned char kind = BYTE_CLASS[(unsigned char)s[i]];
            if (kind != PLAIN && (kind == REFUSED || (i - start >= 2 && s[i - 1] == ']' && s[i - 2] == ']')))
                return -1;
        }
        if (i >= n) return -1;
        Node *open = &tree->nodes[stack[depth - 1]];
        if (open->children == 0) { /* its text (a leaf's, or before its first child) */
            open->text = s + start;
            open->text_len = i - start;
        } else if (!only_space(s + start, i - start)) { /* a tail */
            return -1;
        }
    }
    /* after the root: whitespace only */
    while (i < n && is_space(s[i])) i++;
    return i == n ? 0 : -1;
}

/* ------------------------------------------------------------------ values, as imagenet_ab.py checks them */

/* A leaf's text, stripped (the lxml path's _text); unrecognised for an element with children. */
static int leaf_text(const Node *node, const char **text, Py_ssize_t *len) {
    if (node->children) return -1;
    const char *s = node->text ? node->text : "";
    Py_ssize_t n = node->text ? node->text_len : 0;
    while (n > 0 && is_space(s[0])) s++, n--;
    while (n > 0 && is_space(s[n - 1])) n--;
    /* XML turns \r and \r\n into \n: text holding one is left to lxml */
    if (memchr(s, '\r', n)) return -1;
    *text = s;
    *len = n;
    return 0;
}

static PyObject *text_value(const Node *node) {
    const char *s;
    Py_ssize_t n;
    if (leaf_text(node, &s, &n) < 0) return NULL;
    return PyUnicode_DecodeASCII(s, n, NULL);
}

/* _values._whole on text: [+-]?digits(.0*)?, never through float. */
static int whole(const Node *node, long long *out) {
    const char *s;
    Py_ssize_t n, i = 0;
    if (leaf_text(node, &s, &n) < 0) return -1;
    int negative = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    Py_ssize_t start = i;
    long long value = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') value = value * 10 + (s[i++] - '0');
    if (i == start || i - start > 18) return -1; /* longer ones: lxml's exact ints */
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] == '0'; i++) {
        }
    if (i != n) return -1;
    *out = negative ? -value : value;
    return 0;
}

/* to_int(bits=32, minimum) */
static PyObject *int_value(const Node *node, int nonnegative) {
    long long value;
    if (whole(node, &value) < 0) return NULL;
    if (value < -2147483648LL || value > 2147483647LL || (nonnegative && value < 0)) return NULL;
    return PyLong_FromLongLong(value);
}

/* to_time: whole milliseconds >= 0 */
static PyObject *time_value(const Node *node) {
    long long value;
    if (whole(node, &value) < 0) return NULL;
    if (value < 0) return NULL;
    return PyLong_FromLongLong(value);
}

static const double POWERS_OF_TEN[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path for [+-]digits[.digits] with at most 15 digits: the mantissa and 10^k are
 * exact doubles, so one IEEE division gives the correctly rounded value, as strtod does. */
static int simple_decimal(const char *s, Py_ssize_t n, double *out) {
    Py_ssize_t i = 0, digits = 0, fraction = -1;
    int negative = 0;
    long long mantissa = 0;
    if (s[0] == '+' || s[0] == '-') negative = s[i++] == '-';
    for (; i < n; i++) {
        if (s[i] == '.' && fraction < 0) {
            fraction = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            if (++digits > 15) return 0;
            mantissa = mantissa * 10 + (s[i] - '0');
            if (fraction >= 0) fraction++;
        } else {
            return 0; /* an exponent: the general routine */
        }
    }
    double value = (double)mantissa / POWERS_OF_TEN[fraction > 0 ? fraction : 0];
    *out = negative ? -value : value;
    return 1;
}

static int check_float(double value, int unit) {
    if (!isfinite(value) || fabs(value) > FLOAT32_MAX) return -1;
    if (unit && !(value >= 0.0 && value <= 1.0)) return -1;
    return 0;
}

/* to_float on plain decimal text, through the very routine float() uses; finite, within float32,
 * and within [0, 1] when ``unit``. */
static int float_number(const Node *node, int unit, double *out) {
    const char *s;
    Py_ssize_t n, i = 0;
    char buffer[64];
    if (leaf_text(node, &s, &n) < 0) return -1;
    if (n == 0 || n >= (Py_ssize_t)sizeof(buffer)) return -1;
    if (s[i] == '+' || s[i] == '-') i++;
    Py_ssize_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) digits++;
    if (digits == 0) return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        Py_ssize_t exponent = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == exponent) return -1;
    }
    if (i != n) return -1;
    if (simple_decimal(s, n, out)) return check_float(*out, unit);
    memcpy(buffer, s, n);
    buffer[n] = '\0';
    char *end;
    double value = PyOS_string_to_double(buffer, &end, NULL);
    if (value == -1.0 && PyErr_Occurred()) return -1;
    if (end != buffer + n) return -1;
    *out = value;
    return check_float(value, unit);
}

static PyObject *float_value(const Node *node, int unit) {
    double value;
    if (float_number(node, unit, &value) < 0) return NULL;
    return PyFloat_FromDouble(value);
}

static int bool_value(const Node *node, int *out) {
    const char *s;
    Py_ssize_t n;
    if (leaf_text(node, &s, &n) < 0) return -1;
    if (n == 1 && (s[0] == '1' || s[0] == '0')) {
        *out = s[0] == '1';
        return 0;
    }
    if (n == 4 && PyOS_strnicmp(s, "true", 4) == 0) {
        *out = 1;
        return 0;
    }
    if (n == 5 && PyOS_strnicmp(s, "false", 5) == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* _to_json: a leaf's stripped text, or a dict of the children (a list when a tag repeats). */
static PyObject *to_json(Tree *tree, const Node *node);

static int append_json(Tree *tree, PyObject *lists, const Node *child) {
    PyObject *key = PyUnicode_DecodeASCII(child->tag, child->tag_len, NULL);
    if (!key) return -1;
    PyObject *list = PyDict_GetItemWithError(lists, key);
    if (!list) {
        if (PyErr_Occurred() || !(list = PyList_New(0)) || PyDict_SetItem(lists, key, list) < 0) {
            Py_XDECREF(list);
            Py_DECREF(key);
            return -1;
        }
        Py_DECREF(list); /* the dict holds it */
    }
    Py_DECREF(key);
    PyObject *value = to_json(tree, child);
    if (!value) return -1;
    int failed = PyList_Append(list, value);
    Py_DECREF(value);
    return failed;
}

static PyObject *to_json(Tree *tree, const Node *node) {
    if (!node->children) return text_value(node);
    PyObject *lists = PyDict_New();
    if (!lists) return NULL;
    for (int c = node->first_child; c >= 0; c = tree->nodes[c].next_sibling)
        if (append_json(tree, lists, &tree->nodes[c]) < 0) {
            Py_DECREF(lists);
            return NULL;
        }
    PyObject *key, *list;
    Py_ssize_t position = 0;
    while (PyDict_Next(lists, &position, &key, &list))
        if (PyList_GET_SIZE(list) == 1 && PyDict_SetItem(lists, key, PyList_GET_ITEM(list, 0)) < 0) {
            Py_DECREF(lists);
            return NULL;
        }
    return lists;
}

/* The last child with each of ``count`` tags (the lxml path's {child.tag: ...} dicts). */
static void last_of(Tree *tree, const Node *node, const char **tags, const Node **found, int count) {
    for (int k = 0; k < count; k++) found[k] = NULL;
    for (int c = node->first_child; c >= 0; c = tree->nodes[c].next_sibling) {
        const Node *child = &tree->nodes[c];
        for (int k = 0; k < count; k++)
            if (child->tag_len == (Py_ssize_t)strlen(tags[k]) && memcmp(child->tag, tags[k], child->tag_len) == 0)
                found[k] = child;
    }
}

static int missing(Tree *tree, const Node **found, int count) {
    for (int k = 0; k < count; k++)
        if (!found[k]) return 1;
    return 0;
}

/* Build a dict from ``count`` keys and new references (all stolen; NULL values fail the call). */
static PyObject *make_dict(PyObject **keys, PyObject **values, int count) {
    PyObject *dict = NULL;
    for (int k = 0; k < count; k++)
        if (!values[k]) goto done;
    if (!(dict = PyDict_New())) goto done;
    for (int k = 0; k < count; k++)
        if (PyDict_SetItem(dict, keys[k], values[k]) < 0) {
            Py_CLEAR(dict);
            goto done;
        }
done:
    for (int k = 0; k < count; k++) Py_XDECREF(values[k]);
    return dict;
}

/* ------------------------------------------------------------------ the walk (imagenet_ab.py's, rule for rule) */

static const char *XYT[] = {"x", "y", "time"};
static const char *ACTION_TIME[] = {"action", "time"};
static const char *TXY[] = {"time", "x", "y"};
static const char *BOX[] = {"xmin", "ymin", "xmax", "ymax"};
static const char *OBJECT[] = {"name", "pose", "truncated", "difficult", "bndbox"};
static const char *SIZE[] = {"width", "height", "depth"};

typedef struct {
    long long time_ms;
    double x, y;
} Point;

/* _trace_point: the fast path's values; outside it (a missing field, a refused value) unrecognised */
static int trace_values(Tree *tree, const Node *node, Point *point) {
    const Node *f[3];
    last_of(tree, node, TXY, f, 3);
    if (missing(tree, f, 3) || whole(f[0], &point->time_ms) < 0 || point->time_ms < 0 ||
        float_number(f[1], 0, &point->x) < 0 || float_number(f[2], 0, &point->y) < 0)
        return -1;
    return 0;
}

static PyObject *trace_point(Tree *tree, const Node *node) {
    Point point;
    if (trace_values(tree, node, &point) < 0) return NULL;
    PyObject *keys[] = {k_time_ms, k_x, k_y};
    PyObject *values[] = {PyLong_FromLongLong(point.time_ms), PyFloat_FromDouble(point.x),
                          PyFloat_FromDouble(point.y)};
    return make_dict(keys, values, 3);
}

static int pack_point(Tree *tree, const Node *node, Py_ssize_t *count) {
    Point point;
    if (trace_values(tree, node, &point) < 0) return -1;
    Py_ssize_t size = PyByteArray_GET_SIZE(tree->packed);
    if (PyByteArray_Resize(tree->packed, size + (Py_ssize_t)sizeof(point)) < 0) return -1;
    memcpy(PyByteArray_AS_STRING(tree->packed) + size, &point, sizeof(point));
    ++*count;
    return 0;
}

static PyObject *click(Tree *tree, const Node *node) {
    const Node *f[3];
    last_of(tree, node, XYT, f, 3);
    if (missing(tree, f, 3)) return NULL;
    PyObject *x = float_value(f[0], 1);
    PyObject *y = x ? float_value(f[1], 1) : NULL;
    PyObject *time = y ? time_value(f[2]) : NULL;
    if (!time) {
        Py_XDECREF(x);
        Py_XDECREF(y);
        return NULL;
    }
    PyObject *keys[] = {k_x, k_y, k_time_ms};
    PyObject *values[] = {x, y, time};
    return make_dict(keys, values, 3);
}

static PyObject *hover(Tree *tree, const Node *node) {
    const Node *f[2];
    last_of(tree, node, ACTION_TIME, f, 2);
    if (missing(tree, f, 2)) return NULL;
    PyObject *action = text_value(f[0]);
    PyObject *time = action ? time_value(f[1]) : NULL;
    if (!time) {
        Py_XDECREF(action);
        return NULL;
    }
    PyObject *keys[] = {k_action, k_time_ms};
    PyObject *values[] = {action, time};
    return make_dict(keys, values, 2);
}

static int append_new(PyObject *list, PyObject *item) {
    if (!item) return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* Replace dict[key] by ``value`` (stolen); -1 when value is NULL. */
static int set_new(PyObject *dict, PyObject *key, PyObject *value) {
    if (!value) return -1;
    int failed = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return failed;
}

/* One <metadata> block: an Annotation dict; ``raw`` and a nested ``image_position`` come back as
 * the lxml path's intermediate values (a dict of lists; the _to_json dict) for it to serialise. */
static PyObject *metadata(Tree *tree, const Node *node) {
    PyObject *annotation = PyDict_New(), *clicks = PyList_New(0), *hovers = PyList_New(0),
             *trace = PyList_New(0), *raw = PyDict_New();
    int selected = -1;
    Py_ssize_t packed = 0;
    if (!annotation || !clicks || !hovers || !trace || !raw) goto fail;
    PyObject *nulls[] = {k_assignment_id, k_hit_id, k_worker_id, k_image_width, k_image_height,
                         k_original_image_width, k_original_image_height, k_selected_count,
                         k_estimate_time_ms, k_image_position};
    for (size_t k = 0; k < sizeof(nulls) / sizeof(*nulls); k++)
        if (PyDict_SetItem(annotation, nulls[k], Py_None) < 0) goto fail;
    for (int c = node->first_child; c >= 0; c = tree->nodes[c].next_sibling) {
        const Node *child = &tree->nodes[c];
        int failed;
        if (TAG_IS(child, "mouseTracking"))
            failed = tree->packed ? pack_point(tree, child, &packed) : append_new(trace, trace_point(tree, child));
        else if (TAG_IS(child, "hoveredRecord")) failed = append_new(hovers, hover(tree, child));
        else if (TAG_IS(child, "selected")) failed = bool_value(child, &selected);
        else if (TAG_IS(child, "selectedCount")) failed = set_new(annotation, k_selected_count, int_value(child, 1));
        else if (TAG_IS(child, "selectedRecord")) failed = append_new(clicks, click(tree, child));
        else if (TAG_IS(child, "estimateTime")) failed = set_new(annotation, k_estimate_time_ms, time_value(child));
        else if (TAG_IS(child, "assignment_id")) failed = set_new(annotation, k_assignment_id, text_value(child));
        else if (TAG_IS(child, "hit_id")) failed = set_new(annotation, k_hit_id, text_value(child));
        else if (TAG_IS(child, "worker_id")) failed = set_new(annotation, k_worker_id, text_value(child));
        else if (TAG_IS(child, "imageWidth")) failed = set_new(annotation, k_image_width, int_value(child, 1));
        else if (TAG_IS(child, "imageHeight")) failed = set_new(annotation, k_image_height, int_value(child, 1));
        else if (TAG_IS(child, "originalImageWidth"))
            failed = set_new(annotation, k_original_image_width, int_value(child, 1));
        else if (TAG_IS(child, "originalImageHeight"))
            failed = set_new(annotation, k_original_image_height, int_value(child, 1));
        else if (TAG_IS(child, "imagePosition")) failed = set_new(annotation, k_image_position, to_json(tree, child));
        else failed = append_json(tree, raw, child);
        if (failed) goto fail;
    }
    /* the lxml path's errors: no <selected>; selected without a click */
    if (selected < 0 || (selected && PyList_GET_SIZE(clicks) == 0)) goto fail;
    if (tree->packed) {
        if (append_new(tree->counts, PyLong_FromSsize_t(packed)) < 0) goto fail;
        Py_SETREF(trace, Py_NewRef(Py_None));
    }
    PyObject *first = selected ? PyList_GET_ITEM(clicks, 0) : Py_None;
    if (PyDict_SetItem(annotation, k_selected, selected ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(annotation, k_click, first) < 0 || PyDict_SetItem(annotation, k_clicks, clicks) < 0 ||
        PyDict_SetItem(annotation, k_hovers, hovers) < 0 || PyDict_SetItem(annotation, k_mouse_trace, trace) < 0 ||
        PyDict_SetItem(annotation, k_raw, PyDict_GET_SIZE(raw) ? raw : Py_None) < 0)
        goto fail;
    Py_DECREF(clicks);
    Py_DECREF(hovers);
    Py_DECREF(trace);
    Py_DECREF(raw);
    return annotation;
fail:
    Py_XDECREF(annotation);
    Py_XDECREF(clicks);
    Py_XDECREF(hovers);
    Py_XDECREF(trace);
    Py_XDECREF(raw);
    return NULL;
}

static PyObject *optional(PyObject *(*read)(const Node *), const Node *node) {
    if (!node) Py_RETURN_NONE;
    return read(node);
}

static PyObject *signed_int(const Node *node) { return int_value(node, 0); }

static PyObject *bounding_object(Tree *tree, const Node *node) {
    const Node *f[5];
    last_of(tree, node, OBJECT, f, 5);
    PyObject *bbox = Py_None;
    Py_INCREF(bbox);
    if (f[4]) {
        const Node *box[4];
        last_of(tree, f[4], BOX, box, 4);
        Py_DECREF(bbox);
        if (missing(tree, box, 4) || !(bbox = PyList_New(4))) return NULL;
        for (int k = 0; k < 4; k++) {
            PyObject *value = float_value(box[k], 0);
            if (!value) {
                Py_DECREF(bbox);
                return NULL;
            }
            PyList_SET_ITEM(bbox, k, value);
        }
    }
    PyObject *keys[] = {k_name, k_pose, k_truncated, k_difficult, k_bbox};
    PyObject *values[] = {optional(text_value, f[0]), optional(text_value, f[1]),
                          optional(signed_int, f[2]), optional(signed_int, f[3]), bbox};
    return make_dict(keys, values, 5);
}

static PyObject *nonnegative_int(const Node *node) { return int_value(node, 1); }

/* The image id of a <filename>, as the lxml path's _image_id() and _IMAGE_ID give it: the name
 * less an image or .xml suffix, of the form n<8 digits>_<digits>. Its length, or -1 for anything
 * else (which the lxml path turns into its error). */
static Py_ssize_t image_id_length(const char *s, Py_ssize_t n) {
    static const char *SUFFIXES[] = {".jpeg", ".jpg", ".png", NULL}; /* schema.IMAGE_SUFFIXES */
    Py_ssize_t i = 0;
    if (n < 11 || s[0] != 'n') return -1;
    for (i = 1; i < 9; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    if (s[9] != '_') return -1;
    for (i = 10; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    }
    if (i == 10) return -1;
    if (i == n) return n;
    Py_ssize_t suffix = n - i;
    if (suffix == 4 && memcmp(s + i, ".xml", 4) == 0) return i;
    for (const char **known = SUFFIXES; *known; known++)
        if ((Py_ssize_t)strlen(*known) == suffix && PyOS_strnicmp(s + i, *known, suffix) == 0) return i;
    return -1;
}

/* Whether a row holds a value still to be serialised as JSON (an unknown element, a nested
 * imagePosition): the caller does that with the lxml path's own functions. */
static int needs_json(PyObject *annotations, PyObject *raw) {
    if (PyDict_GET_SIZE(raw)) return 1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(annotations); i++) {
        PyObject *annotation = PyList_GET_ITEM(annotations, i);
        if (PyDict_GetItem(annotation, k_raw) != Py_None || PyDict_Check(PyDict_GetItem(annotation, k_image_position)))
            return 1;
    }
    return 0;
}

/* The row, as the lxml path's _record() assembles it: (row, needs_json), or NULL for the errors
 * _record() raises. */
static PyObject *record(PyObject *filename, PyObject *folder, PyObject *annotations, PyObject **size,
                        PyObject *database, PyObject *segmented, PyObject *objects, PyObject *raw) {
    if (filename == Py_None) return NULL;
    Py_ssize_t n, length;
    const char *name = PyUnicode_AsUTF8AndSize(filename, &n);
    if (!name || (length = image_id_length(name, n)) < 0) return NULL;
    if (folder != Py_None) {
        Py_ssize_t folder_length;
        const char *folder_name = PyUnicode_AsUTF8AndSize(folder, &folder_length);
        if (!folder_name || (folder_length && (folder_length != 9 || memcmp(folder_name, name, 9) != 0))) return NULL;
    }
    PyObject *clicks = PyList_New(0), *row = NULL, *point = Py_None;
    double sum_x = 0.0, sum_y = 0.0;
    if (!clicks) return NULL;
    Py_INCREF(point);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(annotations); i++) {
        PyObject *click = PyDict_GetItem(PyList_GET_ITEM(annotations, i), k_click);
        if (click == Py_None) continue;
        PyObject *x = PyDict_GetItem(click, k_x), *y = PyDict_GetItem(click, k_y);
        sum_x += PyFloat_AS_DOUBLE(x);
        sum_y += PyFloat_AS_DOUBLE(y);
        if (append_new(clicks, Py_BuildValue("[OO]", x, y)) < 0) goto done;
    }
    if (PyList_GET_SIZE(clicks)) {
        double count = (double)PyList_GET_SIZE(clicks);
        Py_SETREF(point, Py_BuildValue("[dd]", sum_x / count, sum_y / count));
        if (!point) goto done;
    }
    PyObject *keys[] = {k_image_id, k_wnid, k_click_point, k_clicks, k_annotations, k_width, k_height, k_depth,
                        k_source_database, k_segmented, k_objects, k_raw};
    PyObject *values[] = {PyUnicode_FromStringAndSize(name, length), PyUnicode_FromStringAndSize(name, 9),
                          Py_NewRef(point), Py_NewRef(clicks), Py_NewRef(annotations), Py_NewRef(size[0]),
                          Py_NewRef(size[1]), Py_NewRef(size[2]), Py_NewRef(database), Py_NewRef(segmented),
                          Py_NewRef(objects), Py_NewRef(PyDict_GET_SIZE(raw) ? raw : Py_None)};
    if (!(row = make_dict(keys, values, 12))) goto done;
    row = Py_BuildValue("(NO)", row, needs_json(annotations, raw) ? Py_True : Py_False); /* N: takes row */
done:
    Py_DECREF(clicks);
    Py_XDECREF(point);
    return row;
}

/* The root: (row, needs_json), the row as the lxml path builds it (see imagenet_ab.py). */
static PyObject *annotation(Tree *tree) {
    const Node *root = &tree->nodes[0];
    PyObject *annotations = PyList_New(0), *objects = PyList_New(0), *raw = PyDict_New();
    PyObject *filename = Py_None, *folder = Py_None, *database = Py_None, *segmented = Py_None;
    PyObject *size[3] = {Py_None, Py_None, Py_None};
    PyObject *result = NULL;
    Py_INCREF(filename), Py_INCREF(folder), Py_INCREF(database), Py_INCREF(segmented);
    for (int k = 0; k < 3; k++) Py_INCREF(size[k]);
    if (!annotations || !objects || !raw) goto done;
    if (!TAG_IS(root, "annotation")) goto done;
    for (int c = root->first_child; c >= 0; c = tree->nodes[c].next_sibling) {
        const Node *child = &tree->nodes[c];
        PyObject *value;
        if (TAG_IS(child, "metadata")) {
            if (append_new(annotations, metadata(tree, child)) < 0) goto done;
        } else if (TAG_IS(child, "filename") || TAG_IS(child, "folder")) {
            if (!(value = text_value(child))) goto done;
            PyObject **slot = TAG_IS(child, "filename") ? &filename : &folder;
            Py_SETREF(*slot, value);
        } else if (TAG_IS(child, "size")) {
            const Node *f[3];
            last_of(tree, child, SIZE, f, 3);
            for (int k = 0; k < 3; k++) {
                if (!(value = optional(nonnegative_int, f[k]))) goto done;
                Py_SETREF(size[k], value);
            }
        } else if (TAG_IS(child, "source") && child->children == 1 &&
                   TAG_IS(&tree->nodes[child->first_child], "database")) {
            if (!(value = text_value(&tree->nodes[child->first_child]))) goto done;
            Py_SETREF(database, value);
        } else if (TAG_IS(child, "segmented")) {
            if (!(value = int_value(child, 0))) goto done;
            Py_SETREF(segmented, value);
        } else if (TAG_IS(child, "object")) {
            if (append_new(objects, bounding_object(tree, child)) < 0) goto done;
        } else if (append_json(tree, raw, child) < 0) {
            goto done;
        }
    }
    result = record(filename, folder, annotations, size, database, segmented, objects, raw);
done:
    Py_XDECREF(annotations);
    Py_XDECREF(objects);
    Py_XDECREF(raw);
    Py_DECREF(filename), Py_DECREF(folder), Py_DECREF(database), Py_DECREF(segmented);
    for (int k = 0; k < 3; k++) Py_DECREF(size[k]);
    return result;
}

static PyObject *scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    char *data;
    Py_ssize_t n;
    if (nargs != 1 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "scan(xml) or scan(xml, packed, counts)");
        return NULL;
    }
    PyObject *packed = nargs == 3 ? args[1] : NULL, *counts = nargs == 3 ? args[2] : NULL;
    if (packed && (!PyByteArray_Check(packed) || !PyList_Check(counts))) {
        PyErr_SetString(PyExc_TypeError, "packed must be a bytearray and counts a list");
        return NULL;
    }
    if (PyBytes_AsStringAndSize(args[0], &data, &n) < 0) return NULL;
    /* lxml (huge_tree=False) refuses text nodes past 10 MB; real files are a few KB */
    if (n > MAX_BYTES) Py_RETURN_NONE;
    /* an element takes at least 7 bytes (<a></a>) */
    Tree tree = {PyMem_Malloc(sizeof(Node) * (n / 7 + 1)), 0, packed, counts};
    if (!tree.nodes) return PyErr_NoMemory();
    PyObject *result = NULL;
    if (build_tree(data, n, &tree) == 0) result = annotation(&tree);
    PyMem_Free(tree.nodes);
    if (!result && !PyErr_Occurred()) Py_RETURN_NONE; /* unrecognised: the caller asks lxml */
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(xml: bytes[, packed: bytearray, counts: list]) -> (row, needs_json) | None\n\nThe row of "
     "an ImageNet-AB file, or None for a file outside the scanner's grammar or one with an error "
     "(parse it with lxml). With ``packed``, mouse-trace points are appended to it (int64 time_ms, "
     "double x, double y) and each block's count to ``counts``; after None both may hold part of "
     "the file. ``needs_json``: raw values are still _to_json values, to serialise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_imagenet_scan", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__imagenet_scan(void) {
    struct {
        PyObject **slot;
        const char *name;
    } keys[] = {
        {&k_x, "x"}, {&k_y, "y"}, {&k_time_ms, "time_ms"}, {&k_action, "action"}, {&k_name, "name"},
        {&k_pose, "pose"}, {&k_truncated, "truncated"}, {&k_difficult, "difficult"}, {&k_bbox, "bbox"},
        {&k_assignment_id, "assignment_id"}, {&k_hit_id, "hit_id"}, {&k_worker_id, "worker_id"},
        {&k_selected, "selected"}, {&k_selected_count, "selected_count"}, {&k_click, "click"},
        {&k_clicks, "clicks"}, {&k_estimate_time_ms, "estimate_time_ms"}, {&k_hovers, "hovers"},
        {&k_mouse_trace, "mouse_trace"}, {&k_image_width, "image_width"}, {&k_image_height, "image_height"},
        {&k_original_image_width, "original_image_width"}, {&k_original_image_height, "original_image_height"},
        {&k_image_position, "image_position"}, {&k_raw, "raw"}, {&k_image_id, "image_id"}, {&k_wnid, "wnid"},
        {&k_click_point, "click_point"}, {&k_annotations, "annotations"}, {&k_width, "width"},
        {&k_height, "height"}, {&k_depth, "depth"}, {&k_source_database, "source_database"},
        {&k_segmented, "segmented"}, {&k_objects, "objects"},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
        if (!(*keys[k].slot = PyUnicode_InternFromString(keys[k].name))) return NULL;
    init_byte_class();
    return PyModule_Create(&module);
}
