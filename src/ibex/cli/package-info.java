/**
 * {@code bin/ibex}: subcommands, logging set-up, exit codes. Imports server, agent, config, core.
 */
package ibex.cli;
