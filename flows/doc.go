// Package flows is Viza's approval core: documents, route snapshots, rounds,
// tasks, decisions, versions, remarks and the per-document state machine.
//
// It knows no chat platform and no SQL driver. Channels turn platform input
// into the commands of Engine; storage implements Store; everything the core
// has to say comes out as audit events and notifications, as data.
package flows
