/* Parsing of the typed [net] layers entries and [net] input (configs/README.md, "Convolutional
 * networks"), for src/run/config.c. */
#ifndef IFLOW_CONFIG_LAYERS_H
#define IFLOW_CONFIG_LAYERS_H

#include <stddef.h>

#include "infoflow/net.h"

/* One entry, `dense N` or `conv C KHxKW [stride S] [pad P] [maxpool K | avgpool K]` (item is
 * split in place). Returns 0 or IFLOW_EPARSE with a "[net] layers: ..." message. */
int iflow_config_parse_block(char *item, iflow_block *b, char *msg, size_t n);

/* `CxHxW`, each 1..2^24; "" gives all zero (not given). 0 or IFLOW_EPARSE. */
int iflow_config_parse_input(const char *v, iflow_shape *out, char *msg, size_t n);

#endif
