/* Subcommands of the infoflow executable. Each takes argc/argv starting at the command's name
 * and returns the process exit code: 0 ok, 1 error, 2 usage error. */
#ifndef IFLOW_CLI_COMMANDS_H
#define IFLOW_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_entropy(int argc, char **argv);
int cmd_mi(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_validate(int argc, char **argv);

#endif
