/* placeholder: being written */
#include "vv-tool.h"
int vv_tool_info (int argc, char **argv) { return 2; }
