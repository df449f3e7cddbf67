/**
 * The agent port: accepts agent connections and runs each handshake on a virtual thread; a
 * welcomed plain connection then waits in one selector ({@link ibex.server.rpc.ReadLoop}) and
 * gets a virtual thread only while it has bytes to handle (a TLS one keeps its thread). Answers
 * heartbeats from memory, stores reported results, and pushes assignment changes to connected
 * agents at once. Imports core, wire, store, config; never the scheduler or the API.
 */
package ibex.server.rpc;
