// Package ops holds the core pipeline operators: camera.source (ffmpeg
// decodes a camera, file or test scene to frames), core.fps_reducer and
// stream.publish_video (frames into a transmission). They register
// themselves with package pipeline when this package is imported.
package ops
