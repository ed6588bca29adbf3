// The demo guest: a WASI preview1 command that greets, shows its arguments and environment,
// and exits with the code given in EXIT_CODE (0 by default).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  printf("Hello from WebAssembly, run by nodewasm through containerd!\n");
  for (int i = 1; i < argc; i++) printf("argv[%d] = %s\n", i, argv[i]);
  const char *greeting = getenv("GREETING");
  if (greeting != NULL) printf("GREETING = %s\n", greeting);
  const char *code = getenv("EXIT_CODE");
  return code != NULL ? atoi(code) : 0;
}
