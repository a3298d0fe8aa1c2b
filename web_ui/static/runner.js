/* Runner view: the one target, a full-screen flash and a tone per stride cue (/stream/cues, sent
   the moment a stride completes), the block's time left, "Keep going" in a block without feedback,
   and a metronome for a cadence target. window.hipcamRunnerLog records what it showed and played. */
"use strict";
(function () {
  const FLASH_MS = 1500;       // a cue stays this long, or until the next one
  const STALE_S = 3;           // older cues (replayed after a reconnect) are not shown
  const WATCHDOG_MS = 3500;    // the server sends a status every second
  const LOG_MAX = 500;
  const LOOKAHEAD_S = 0.3;     // metronome beats are scheduled this far ahead on the audio clock
  const TONES = { hit: { hz: 1320, s: 0.09, gain: 0.3 }, miss: { hz: 330, s: 0.2, gain: 0.45 }, tick: { hz: 2000, s: 0.03, gain: 0.25 } };
  const MEASURE_UNITS = { hip_extension_at_toe_off_deg: "°", cadence_spm: " spm" };
  const $ = function (id) { return document.getElementById(id); };

  const log = [];
  window.hipcamRunnerLog = log;
  function note(entry) {
    entry.at = Date.now();
    log.push(entry);
    if (log.length > LOG_MAX) log.splice(0, log.length - LOG_MAX);
  }

  let fb = null;            // flags.feedback, or null
  let deviceStatus = null;  // the pipeline's status: running, no_runner, ...
  let offset = 0;           // device clock - this clock (s)
  let connected = false, everConnected = false, heardAt = 0, source = null, flashTimer = null;
  let audio = null, nextBeat = null;

  function deviceNow() { return Date.now() / 1000 + offset; }

  /* ---- what the screen shows ---- */
  function mode() {
    if (!connected) return everConnected ? "reconnecting" : "connecting";
    if (!fb) return "none";
    if (fb.finished || !fb.active) return "finished";
    if (!fb.block || !fb.block.feedback) return "keep-going";
    if (deviceStatus !== "running") return "waiting";
    return "feedback";
  }

  const MESSAGES = {
    connecting: ["Connecting…", ""],
    reconnecting: ["Reconnecting…", "Lost the connection to hipcam; trying again"],
    none: ["No feedback running", "The clinician starts it on the live page"],
    finished: ["Finished", "Well done"],
    "keep-going": ["Keep going", ""],
    feedback: ["", ""]
  };

  function waitingMessage() {
    if (deviceStatus === "camera_lost" || deviceStatus === "model_missing") return ["Camera not working", "Tell the clinician"];
    return ["Waiting for the runner", "Run in front of the camera"];
  }

  function render() {
    const m = mode();
    document.body.dataset.mode = m;
    const words = m === "waiting" ? waitingMessage() : MESSAGES[m];
    const showTarget = m === "feedback" || m === "waiting";
    $("r-target").textContent = showTarget && fb ? fb.target.label : "";
    $("r-big").textContent = m === "feedback" ? "Ready" : words[0];
    $("r-small").textContent = words[1];
    $("r-bottom").hidden = m !== "feedback";
    if (m !== "feedback") clearFlash();  // no cue survives into a block without feedback
    if (m === "feedback") renderBlock();
    renderTime();
    syncMetronome();
    renderSoundButton();
  }

  function renderBlock() {
    const b = fb.block;
    const block = document.createElement("b");
    block.textContent = (b.index + 1) + " / " + b.count;
    $("r-block").replaceChildren("Block ", block);
    const rate = b.hit_rate === null || b.hit_rate === undefined ? 0 : b.hit_rate;
    $("r-bar-fill").style.width = Math.round(100 * rate) + "%";
    $("r-bar").setAttribute("aria-valuenow", String(Math.round(100 * rate)));
    const streak = $("r-streak");
    const pips = [];
    for (let i = 0; i < Math.min(fb.streak || 0, 10); i++) pips.push(document.createElement("i"));
    streak.replaceChildren.apply(streak, pips);
    if (fb.show_values) {
      streak.append(" " + (b.hits || 0) + " of " + (b.strides || 0) + " · streak " + (fb.streak || 0));
    } else if ((fb.streak || 0) > 10) {
      streak.append(" +");
    }
  }

  function renderTime() {
    if (mode() !== "feedback") return;
    const b = fb.block;
    const left = Math.max(0, Math.min(Math.ceil(b.ends_at - deviceNow()), Math.round(b.ends_at - b.started_at)));
    $("r-time").textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
  }

  function clearFlash() {
    clearTimeout(flashTimer);
    $("r-flash").hidden = true;
    $("r-flash").dataset.kind = "";
  }

  function flash(cue) {
    const kind = cue.hit ? "hit" : "miss";
    const f = $("r-flash");
    f.hidden = true;
    void f.offsetWidth;  // restart the pop animation for back-to-back cues of one kind
    f.dataset.kind = kind;
    $("r-symbol").textContent = cue.hit ? "✓" : "✗";
    const unit = MEASURE_UNITS[cue.measure];
    const value = fb && fb.show_values && unit && cue.value !== null && cue.value !== undefined;
    $("r-value").hidden = !value;
    $("r-value").textContent = value ? Math.round(cue.value) + unit : "";
    f.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(clearFlash, FLASH_MS);
  }

  /* ---- the stream ---- */
  function onStatus(ev) {
    let s;
    try { s = JSON.parse(ev.data); } catch (e) { return; }
    offset = s.server_time - Date.now() / 1000;
    fb = s.feedback || null;
    deviceStatus = s.status;
    connected = everConnected = true;
    heardAt = Date.now();
    note({ type: "status", mode: mode(), block: fb && fb.block ? fb.block.index : null });
    render();
  }

  function onCue(ev) {
    let cue;
    try { cue = JSON.parse(ev.data); } catch (e) { return; }
    heardAt = Date.now();
    // Not shown: feedback-off blocks and bandwidth hits (show false), strides hipcam could not
    // judge (hit null: never a false "miss"), and old cues replayed after a reconnect.
    const stale = cue.posted_at < deviceNow() - STALE_S;
    // The cue itself says whether its block has feedback: it may come just before the status
    // that starts the block.
    const shown = cue.show === true && cue.hit !== null && cue.hit !== undefined && !stale && connected;
    note({ type: "cue", seq: cue.seq, hit: cue.hit, show: cue.show, shown: shown, block: cue.block, delay_ms: Math.round(1000 * (deviceNow() - cue.captured_at)) });
    if (!shown) return;
    flash(cue);
    tone(cue.hit ? "hit" : "miss");
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/stream/cues");
    source.addEventListener("status", onStatus);
    source.addEventListener("cue", onCue);
    source.onerror = function () {
      connected = false;
      render();
      // EventSource retries by itself, unless the server refused (503 too many viewers, 401).
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
  }

  function watchdog() {
    if (connected && Date.now() - heardAt > WATCHDOG_MS) { connected = false; render(); connect(); }
    renderTime();
  }

  /* ---- sound: Web Audio, unlocked by the first tap ---- */
  function soundWanted() { return !!fb && fb.active && (fb.audio !== "off" || !!fb.metronome_spm); }

  function renderSoundButton() { $("r-sound").hidden = !!audio || !soundWanted(); }

  function enableSound() {
    if (!audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = new Ctx();
      note({ type: "audio", state: audio.state });
    }
    if (audio.state === "suspended") audio.resume();
    renderSoundButton();
    keepAwake();
  }

  function beep(spec, when) {
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = spec.hz;
    // A short attack and decay: no click at the start or end of the tone.
    gain.gain.setValueAtTime(0.0001, when);
    gain.gain.exponentialRampToValueAtTime(spec.gain, when + 0.008);
    gain.gain.exponentialRampToValueAtTime(0.0001, when + spec.s);
    osc.connect(gain).connect(audio.destination);
    osc.start(when);
    osc.stop(when + spec.s + 0.02);
  }

  function tone(kind) {
    if (!audio || !fb) return;
    if (fb.audio === "off" || (fb.audio === "misses" && kind === "hit")) return;
    const when = audio.currentTime + 0.005;
    beep(TONES[kind], when);
    note({ type: "tone", kind: kind, audio_time: when });
  }

  // Beats on the audio clock, a little ahead of time: setTimeout's jitter moves when the next
  // batch is scheduled, never when a beat sounds.
  function syncMetronome() {
    const spm = fb && mode() === "feedback" ? fb.metronome_spm : null;
    if (!spm || !audio) { nextBeat = null; return; }
    const period = 60 / spm;
    if (nextBeat === null || nextBeat < audio.currentTime) nextBeat = audio.currentTime + 0.05;
    while (nextBeat < audio.currentTime + LOOKAHEAD_S) {
      beep(TONES.tick, nextBeat);
      note({ type: "tick", spm: spm, audio_time: nextBeat });
      nextBeat += period;
    }
  }
  function metronomeLoop() { syncMetronome(); setTimeout(metronomeLoop, 100); }

  // A screen in front of the treadmill must not go dark (where the browser allows it: HTTPS).
  let wakeLock = null;
  function keepAwake() {
    if (wakeLock || !navigator.wakeLock || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeLock = lock;
      lock.addEventListener("release", function () { wakeLock = null; });
    }).catch(function () { /* not allowed here (plain HTTP): the screen's own settings apply */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["pointerdown", "keydown"].forEach(function (type) { document.addEventListener(type, enableSound); });
    document.addEventListener("visibilitychange", keepAwake);
    render();
    connect();
    setInterval(watchdog, 250);
    metronomeLoop();
    keepAwake();
  });
})();
