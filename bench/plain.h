
/*
 * Copyright (C) ngx_http_fib_module authors
 */


#ifndef _PLAIN_H_INCLUDED_
#define _PLAIN_H_INCLUDED_


#include <stdint.h>


uint64_t plain_fib(unsigned n);


#endif /* _PLAIN_H_INCLUDED_ */
