// Package embedded is the in-process media server of toposync-streaming: it
// accepts H.264 RTSP publishers on loopback and serves each configured path to
// readers over RTSP (gortsplib), HLS with MPEG-TS segments (gohlslib) and WHEP
// (pion/webrtc).
//
// What it owns:
//   - the RTSP, HLS and WHEP listeners given in [Config];
//   - the set of configured paths ([Server.SetPaths]) and, per path, the
//     publisher session, the cached current GOP, the reader sessions and the
//     byte/drop counters;
//   - the reader hold: a reader of a configured path without a publisher
//     raises demand at once ([Server.Demand]) and waits (on a channel, never
//     polling) up to [Config.ReaderHoldTimeout] for the first keyframe.
//
// Where readers find a path named NAME:
//
//	rtsp://HOST:RTSPPort/NAME                 (TCP; UDP too when configured)
//	http://HOST:HLSPort/NAME/index.m3u8       (MPEG-TS segments of >= 1 s)
//	POST http://HOST:WebRTCPort/NAME/whep     (WHEP, then DELETE the Location)
//
// How fast readers start:
//   - a reader of a path without publisher is held; RTSP readers are released
//     as soon as the publisher records with known SPS/PPS, so that they get
//     its first IDR live; HLS and WHEP readers once that IDR arrived;
//   - the current GOP (from the last IDR) is cached per path: a new WHEP
//     reader gets it at once (its timestamps squeezed to the newest frame, so
//     the browser shows the live picture instead of replaying the GOP) and a
//     new HLS muxer starts from it;
//   - a new RTSP reader of a running stream gets live packets only, and
//     waits for the next IDR (at most one GOP): gortsplib's ServerStream
//     offers no way to send earlier packets to one session.
//
// What it never does:
//   - it never starts publishers or other processes: demand is only reported;
//   - it never reads settings, files or environment variables, and never
//     derives credentials: the caller passes them in [PathConfig];
//   - it never serves the product's HTTP API;
//   - it never lets a reader block the publisher or other readers: every
//     reader has a bounded queue, and a slow reader drops until the next
//     keyframe (counted in [PathInfo].ReaderDrops);
//   - it never accepts a publisher from a non-loopback address.
package embedded
