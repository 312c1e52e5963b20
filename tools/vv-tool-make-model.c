/* placeholder: being written */
#include "vv-tool.h"
int vv_tool_make_model (int argc, char **argv) { return 2; }
