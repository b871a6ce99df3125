// Package vision registers the model-free vision operators of the pipeline:
// camera.motion_gate, vision.detect, vision.track and
// vision.segment_instances.
//
// This build ships no neural models. Every detection, track and mask made
// here comes from motion: frame differencing (camera.motion_gate) or
// background subtraction (the vision.* operators), never from a trained
// model. A "detection" is a region of the image that differs from a slowly
// learnt background; it has no class (every box is labelled "motion") and
// its score is a contrast/fill heuristic, not a probability. Objects that
// stand still are absorbed into the background after some seconds, and
// moving shadows, swaying trees or light changes are detected like anything
// else. Each operator states the method it runs in its Status().Method and in
// the log line it writes when built:
//
//	camera.motion_gate        method "frame_difference"
//	vision.detect             method "motion_background_subtraction"
//	vision.track              method "iou_tracker_on_motion_background_subtraction"
//	vision.segment_instances  method "motion_background_subtraction_mask"
//
// The model_id (vision.detect, vision.segment_instances) and tracker_id
// (vision.track) configs, and the categories lists, are accepted so that
// graphs written for the model-based original keep validating, but they are
// ignored: the operator logs once, when it is built, that it ignores them.
//
// Analysis runs on a gray copy downscaled to about 160 (motion gate) or 320
// (vision.*) pixels wide; only drawing happens at full resolution, on a new
// frame (frames are immutable once emitted). The Detector and Segmenter
// interfaces are the seams where a real model can plug in later: the
// operators only call them and draw what they return.
//
// # camera.motion_gate
//
// Config: threshold (fraction of changed pixels, 0.0001..1, default 0.010),
// activation_frames (>= 1, default 2), hold_seconds (0..120, default 6),
// emit_when_idle (default false). A pixel of the ~160 px gray copy has
// changed when it differs from the previous frame's by more than 25 levels;
// a frame has motion when the changed fraction is >= threshold. After
// activation_frames consecutive frames with motion the gate emits the frame
// with lifecycle "open"; then every frame is emitted with "update" while
// motion goes on and for hold_seconds after the last motion; the first frame
// hold_seconds or more after the last motion is emitted once with "close".
// Packet.Time is the clock, never the wall clock.
//
// Idle frames (no event open) are dropped, unless emit_when_idle is true: then
// they are emitted with lifecycle "update" so the output is a continuous
// stream with event markers. Idle frames never change the gate's state: they
// do not re-open a closed event (only activation_frames frames of motion emit
// a new "open"), and the "close" that ends an event is still emitted. Note
// that a sink which ends its output on "close" (stream.publish_video) starts
// it again on the next idle "update"; that is what emit_when_idle asks for.
// An input packet with lifecycle "close" (the source stopped) closes an open
// event and forgets the previous frame.
//
// # vision.detect
//
// Config: model_id (ignored), categories (ignored, lower-cased and
// de-duplicated for the status), confidence_threshold (0.01..1, default
// 0.55), emit_mode ("events" or "annotate", default "annotate").
// Background subtraction on a ~320 px gray copy (running average, faster
// learning where the pixel is background than where it is foreground; a
// pixel is foreground when it differs from the background by more than 25
// levels), a 3x3 opening and closing, 8-connected components, blobs under
// 0.04% of the image dropped, overlapping boxes merged, boxes scored and
// filtered by confidence_threshold and scaled back to full size. When more
// than 60% of the image is foreground (a light switch, a camera move) the
// background is re-learnt from that frame and the frame has no detections.
// The output "frame" is a copy of the input with 3 px green box outlines;
// "frame_original" is the unannotated input (the input's own
// "frame_original" when it has one, which is also what is analysed).
// In "annotate" mode every frame is emitted with the input's lifecycle. In
// "events" mode only frames with detections are emitted: the first with
// "open", the next ones with "update"; the first frame without detections is
// emitted once with "close", then nothing until detections come back. There
// is no hysteresis in vision.detect: vision.track (close_after_seconds) is
// the operator that smooths over missed frames.
//
// Detections are not put into the packet (Packet has no field for them).
// vision.detect records the boxes it found for each analysed frame in a
// small package-level cache keyed by the pipeline name and a weak pointer to
// the analysed frame (its output "frame_original"); a vision.track placed
// after it in the same pipeline reuses those boxes instead of running a
// second background subtraction. When there is no cache entry (no detect
// upstream, or the entry was evicted) vision.track runs its own.
//
// # vision.track
//
// Config: tracker_id (ignored), close_after_seconds (0..600, default 5),
// emit_mode ("events" or "annotate", default "annotate"). An IoU tracker:
// each track's box is predicted forward with its smoothed velocity, then
// detections are matched greedily to tracks by decreasing IoU (>= 0.1);
// unmatched detections start new tracks with the next integer id (ids are
// never reused within an operator); a track unseen for more than
// close_after_seconds (packet time) is dropped. The output "frame" is
// "frame_original" (or "frame") with each track seen in this frame outlined
// in a colour per id and its id written above the box in a 3x5 digit font
// scaled x3. "events" mode works as in vision.detect, but an event lasts
// while at least one track lives: "open" when the first track appears,
// "close" when the last one is dropped.
//
// # vision.segment_instances
//
// Config: model_id (ignored), categories (ignored), attach_mask_artifacts
// (default true). The foreground of the same background subtraction (blobs
// scoring under 0.55 or too small removed), one instance per connected
// component. Emits "frame": the input with a translucent colour (one per
// instance) over foreground pixels; "frame_original"; and, when
// attach_mask_artifacts, "mask": a BGR frame of the input's size, white on
// foreground and black elsewhere. Every frame is emitted, lifecycle passed
// through.
//
// Known limits of the method: an object already in view when the operator
// starts (or when the background is re-learnt) is part of the background, so
// when it moves away its old place shows as a "ghost" blob until the
// background absorbs it (15-20 s at 15 fps); camera shake and compression
// noise above 25 gray levels show as motion.
//
// Every operator has a Status() method (Method, frame and emit counters, the
// ignored model fields) for a host that wants to show it.
package vision
