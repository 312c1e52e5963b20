/* placeholder: being written */
#include "vv-tool.h"
int vv_tool_tokenize (int argc, char **argv) { return 2; }
