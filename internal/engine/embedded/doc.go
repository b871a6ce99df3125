// Package embedded is the in-process media server of toposync-streaming: it
// takes H.264 from in-process sinks of the service ([Server.OpenSink], see
// sink.go) and from RTSP publishers on loopback, and serves each configured
// path to readers over RTSP (gortsplib), HLS with MPEG-TS segments
// (gohlslib) and WHEP (pion/webrtc).
//
// What it owns:
//   - the RTSP, HLS and WHEP listeners given in [Config];
//   - the set of configured paths ([Server.SetPaths]) and, per path, the
//     publisher (a sink, or an RTSP session, refused while a sink is open),
//     the cached current GOP, the reader sessions and the byte/drop
//     counters;
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
// With [Config.TLS] the same ports speak rtsps:// (TCP; UDP only as SRTP)
// and https:// instead, publishers included; nothing plain is left open.
// RTSPS readers then take RTP packets of at most 1462 bytes (gortsplib keeps
// 10 of its 1472 for SRTP): a publisher's larger packets are lost to them
// (counted in ReaderDrops, logged once), so publishers send smaller ones
// (ffmpeg -pkt_size 1462).
//
// How fast readers start:
//   - a reader of a path without publisher is held; RTSP readers are released
//     as soon as the publisher records with known SPS/PPS, so that they get
//     its first IDR live; HLS and WHEP readers once that IDR arrived;
//   - the current GOP (from the last IDR) is cached per path: a new WHEP
//     reader gets it at once (its timestamps squeezed to the newest frame, so
//     the browser shows the live picture instead of replaying the GOP) and a
//     new HLS muxer starts from it;
//   - a new RTSP reader of a running stream gets the cached RTP packets of
//     the current GOP at once, queued to its session in OnPlay, and then the
//     live packets, without gap or duplicate (see rtspjoin.go for how the
//     hand-over to the shared ServerStream works). Sequence numbers and
//     timestamps are the publisher's: the GOP arrives as a burst, so a
//     decoder starts at once; a real-time player starts at most one GOP
//     behind. A GOP of more than 768 packets (3/4 of the 1024-packet session
//     write queue) is not sent: that reader waits for the next IDR.
//
// Known issue (gortsplib v5.3.1, not of this package): a UDP SETUP that runs
// concurrently with another SETUP of the same stream is a data race inside
// gortsplib (ServerStream.readerAdd reads the other sessions' medias without
// their lock); TestRTSPFastJoin therefore starts its UDP reader alone.
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
