/* SPDX-License-Identifier: MIT */
/* CSV tables (lib/data/csv.c): a header row, then one record per line;
 * selected target columns, every other non-ignored column a float feature.
 * Internal API, never installed; the public data-set loader is built on it.
 *
 * Rules (RFC 4180 plus the choices below):
 * - The first record is the header: column names, non-empty and unique.
 *   A UTF-8 byte order mark before it is skipped.
 * - Records end with LF or CRLF. A CR not followed by LF (outside quotes) is
 *   an error. Empty lines (or lines of spaces/tabs) are allowed only at the
 *   end of the file; the last record needs no line end.
 * - A field is either unquoted (no '"' inside) or enclosed in double quotes,
 *   where "" stands for one quote and delimiters, CR and LF are data.
 *   Spaces and tabs (unless the tab is the delimiter) around a field, and
 *   outside the quotes of a quoted one, are dropped; inside quotes they are
 *   kept. Anything else after a closing quote is an error.
 * - Every record has as many fields as the header. NUL bytes are refused.
 * - Feature and regression-target cells are numbers:
 *   [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?  -- no inf,
 *   nan, hex, thousands separators or locale decimal commas. The parser is
 *   our own (no strtod, so the caller's locale never matters). A value
 *   whose magnitude exceeds FLT_MAX is refused; tiny values round to 0.
 * - Empty cells are errors (no silent NaN) in feature and target columns.
 *   Cells of ignored columns are never looked at (they may be empty).
 * - Classification: the one target column holds class names (any non-empty
 *   text, compared byte for byte). Classes are numbered in sorted order: by
 *   numeric value when every class name is a number (ties, e.g. "1" and
 *   "1.0", by bytes), else by bytes (strcmp). So integer labels 0..K-1 keep
 *   their values, and "setosa" < "versicolor" < "virginica".
 * - Errors say where: "iris.csv:7:2: 'abc' is not a number (column
 *   \"sepal_width\")" -- file:LINE:FIELD, LINE the 1-based line on which the
 *   field starts (quoted fields may span lines), FIELD the 1-based field
 *   number in the record.
 * - A failed call leaves *out untouched and frees everything it allocated.
 */
#ifndef TG_DATA_CSV_H
#define TG_DATA_CSV_H

#include "tg_internal.h"

/* Hard limits, checked before the memory they bound is allocated. */
#define TG_CSV_MAX_FILE_BYTES ((size_t)1 << 30)     /* 1 GiB of text */
#define TG_CSV_MAX_COLUMNS 4096                     /* fields per record */
#define TG_CSV_MAX_ROWS TG_DATASET_MAX_IMAGES       /* data records (10^7) */
#define TG_CSV_MAX_FIELD_BYTES 4096                 /* one field, unquoted */
#define TG_CSV_MAX_CLASSES TG_DATASET_MAX_CLASSES   /* distinct class names */
#define TG_CSV_MAX_VALUES ((size_t)1 << 28)         /* rows x (features + targets) floats (1 GiB) */

typedef enum tg__csv_task {
    TG__CSV_CLASSIFICATION = 0,
    TG__CSV_REGRESSION = 1
} tg__csv_task;

/* Lower limits, for tests only (0 = the TG_CSV_MAX_* default). A limit
 * above the default is clamped to it. */
typedef struct tg__csv_limits {
    size_t file_bytes, columns, rows, field_bytes, classes, values;
} tg__csv_limits;

typedef struct tg__csv_spec {
    const char *const *targets;  /* target column names, in output order */
    int n_targets;               /* classification: exactly 1; regression: >= 1 */
    tg__csv_task task;
    const char *const *ignore;   /* columns to drop (may be NULL when n_ignore is 0) */
    int n_ignore;
    char delimiter;              /* ',' (also when 0), ';', '\t' or '|' */
    const tg__csv_limits *limits; /* NULL: the TG_CSV_MAX_* limits */
} tg__csv_spec;

/* All memory comes from the ctx's allocator; release with tg__table_free(). */
typedef struct tg__table {
    size_t n_rows;
    int n_features;
    float *features;         /* n_rows x n_features, row-major, file column order */
    char **feature_names;    /* n_features names */
    tg__csv_task task;
    int n_targets;           /* 1 for classification */
    char **target_names;     /* n_targets names, in spec order */
    int32_t *labels;         /* classification: n_rows class indices, else NULL */
    float *targets;          /* regression: n_rows x n_targets, else NULL */
    int n_classes;           /* classification: number of distinct names, else 0 */
    char **class_names;      /* classification: class index -> name, else NULL */
    char *strings;           /* storage behind every name above */
} tg__table;

/* Read and parse the file at path (the path names the file in messages).
 * @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad spec), TG_ERR_IO (cannot open,
 * not a regular file, read error), TG_ERR_NOT_FOUND (a target or ignored
 * column missing from the header), TG_ERR_FORMAT (malformed text, bad cell,
 * wrong field count), TG_ERR_LIMIT, TG_ERR_NOMEM. *out untouched on error. */
tg_status tg__csv_read(tg_ctx *ctx, const char *path, const tg__csv_spec *spec, tg__table *out);

/* Parse text[0..len) (need not be NUL-terminated; NUL bytes are refused);
 * source_name (NULL: "<csv>") names it in messages. As tg__csv_read(). */
tg_status tg__csv_parse(tg_ctx *ctx, const char *text, size_t len, const char *source_name,
                        const tg__csv_spec *spec, tg__table *out);

/* Free a table filled by the functions above and zero it; a zeroed table
 * (or NULL) is a no-op. */
void tg__table_free(tg_ctx *ctx, tg__table *t);

/* The number syntax above on s[0..n), no spaces. Returns 0 and the value
 * (+-HUGE_VAL when it overflows a double, 0 when it underflows), or -1 when
 * the text is not a number. Exact (equal to strtod in the C locale) when
 * the text has at most 19 significant digits forming a value <= 2^53 and
 * the decimal exponent after moving the point is within +-22; otherwise
 * within a few ulps of a double. */
int tg__csv_parse_double(const char *s, size_t n, double *out);

#endif /* TG_DATA_CSV_H */
