// Package pipeline is the small pipeline host: pipelines are graphs of
// operators (nodes) joined by bounded queues (edges); the Host runs every
// enabled pipeline of this server and restarts it when its definition
// changes. Operators register themselves by type (see Register); the core
// ones live in package ops, the vision ones in package vision.
//
// A slow node never stalls the nodes before it: every queue drops its
// oldest packet when full, and counts the drop. The package never encodes
// video; stream.publish_video hands frames to the streaming runtime.
package pipeline
