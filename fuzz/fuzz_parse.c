
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * libFuzzer target: the query parser on arbitrary bytes.  Besides
 * crashes and leaks (ASan, UBSan), it checks that an accepted query
 * gives a number that reads back the same.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fib_core.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int        len;
    char       again[32];
    uint64_t   n, m;
    fib_rc_t   rc;

    rc = fib_parse_query((const char *) data, size, &n);

    if (fib_strerror(rc) == NULL) {
        abort();
    }

    if (rc != FIB_OK) {
        return 0;
    }

    /* an accepted query must name num */
    if (size < 4 || memchr(data, '=', size) == NULL) {
        abort();
    }

    len = snprintf(again, sizeof(again), "num=%llu", (unsigned long long) n);

    if (fib_parse_query(again, (size_t) len, &m) != FIB_OK || m != n) {
        abort();
    }

    return 0;
}
