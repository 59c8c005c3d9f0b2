/* Subcommands of the `avflow` command. Each takes its own argv (argv[0] is
 * the subcommand name) and returns the process exit code. */
#ifndef AVF_TOOLS_COMMANDS_H
#define AVF_TOOLS_COMMANDS_H

int avf_cmd_bench(int argc, char **argv);
int avf_cmd_info(int argc, char **argv);
int avf_cmd_inspect(int argc, char **argv);
int avf_cmd_run(int argc, char **argv);
int avf_cmd_serve(int argc, char **argv);
int avf_cmd_ocr(int argc, char **argv);
int avf_cmd_vad(int argc, char **argv);

#endif
