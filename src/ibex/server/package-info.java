/**
 * The composition root of the server role: wires config, store, scheduler, agent port and HTTP
 * API, and owns the start and stop order. Imports server.*, store, wire, config, core.
 */
package ibex.server;
