/**
 * Config files: a small TOML reader that keeps line numbers, and {@link ibex.config.ServerConfig} and
 * {@link ibex.config.AgentConfig}, each read once into a checked, immutable record. The keys are the
 * original ibex's; its keys we have no use for load with one warning, anything else stops the load
 * with {@code file:line:} and what was expected. Imports only {@code ibex.core}.
 */
package ibex.config;
