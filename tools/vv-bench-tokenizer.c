/* placeholder: being written */
#include "vv-tool.h"
int vv_bench_tokenizer (int argc, char **argv) { return 2; }
