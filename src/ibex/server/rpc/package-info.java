/**
 * The agent port: accepts agent connections (one virtual thread each), runs the handshake,
 * answers heartbeats from memory, stores reported results, and pushes assignment changes to
 * connected agents at once. Imports core, wire, store, config; never the scheduler or the API.
 */
package ibex.server.rpc;
