// A review that means watched: reports to the server which seconds of the file under review
// this player actually played, and at what speed (loaded as a file: the CSP allows no
// inline script). The server keeps and judges them (bwc_custody/releases/coverage.py):
// normal speed counts everywhere, up to 2x outside flagged ranges, faster for nothing.
//
// `played` (HTMLMediaElement.played) says what the browser played but not at which speed,
// and a stretch played again at another speed does not change it; so the segments are
// followed here as the player plays them (each with its playbackRate), and what is sent is
// each segment cut to `played`, less what was already sent at that speed class. Reports go
// every 10 s while playing, on pause, end, seek and speed change, and before the sign-off
// form is sent, one at a time; the answer is the coverage panel, redrawn by the server.
(() => {
  "use strict";
  const EVERY_MS = 10000;
  const MIN_S = 0.01;
  // how far a segment may be stretched to the end of the played range it is in, when a seek
  // ends it (the last timeupdate can be up to 250 ms before the seek)
  const SEEK_REACH_S = 0.3;

  const cls = (rate) => (rate <= 1 ? "full" : rate <= 2 ? "skim" : "fast");

  function merge(spans) {
    const out = [];
    for (const [s, e] of spans.filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0])) {
      if (out.length && s <= out[out.length - 1][1] + 0.001) {
        out[out.length - 1][1] = Math.max(out[out.length - 1][1], e);
      } else {
        out.push([s, e]);
      }
    }
    return out;
  }

  function subtract(spans, minus) {
    const out = [];
    for (const [s, e] of merge(spans)) {
      let at = s;
      for (const [c0, c1] of merge(minus)) {
        if (c1 <= at || c0 >= e) continue;
        if (c0 > at) out.push([at, c0]);
        at = Math.max(at, c1);
      }
      if (at < e) out.push([at, e]);
    }
    return out.filter(([a, b]) => b - a >= MIN_S);
  }

  function intersect(spans, ranges) {
    const out = [];
    for (const [s, e] of spans) {
      for (let i = 0; i < ranges.length; i++) {
        const a = Math.max(s, ranges.start(i));
        const b = Math.min(e, ranges.end(i));
        if (b > a) out.push([a, b]);
      }
    }
    return out;
  }

  function track(video) {
    const panel = () => document.getElementById(video.dataset.coveragePanel);
    const segments = []; // closed: [start, end, rate]
    let open = null; // the segment being played: {start, end, rate}
    const sent = { full: [], skim: [], fast: [] };
    let queue = Promise.resolve();

    // end the segment being played at `end` (the player's time, unless it is mid-seek: then
    // the time is the seek's target, not where playing stopped)
    function close(end, seekedFrom = false) {
      if (open) {
        if (end > open.end && (seekedFrom || (!video.seeking && end - open.end < 1.5))) {
          open.end = end;
        }
        if (open.end - open.start >= MIN_S) segments.push([open.start, open.end, open.rate]);
        open = null;
      }
    }

    function begin() {
      if (!video.paused && !video.seeking) {
        open = { start: video.currentTime, end: video.currentTime, rate: video.playbackRate };
      }
    }

    function pending() {
      const all = segments.concat(open ? [[open.start, open.end, open.rate]] : []);
      const taken = { full: [], skim: [], fast: [] };
      const ranges = [];
      for (const [s, e, rate] of all) {
        const c = cls(rate);
        for (const [a, b] of subtract(intersect([[s, e]], video.played),
                                      sent[c].concat(taken[c]))) {
          ranges.push({ start: a, end: b, rate, c });
          taken[c].push([a, b]);
        }
      }
      return ranges;
    }

    function show(html) {
      const old = panel();
      if (!old) return;
      const fresh = new DOMParser().parseFromString(html, "text/html").body.firstElementChild;
      if (!fresh) return;
      old.replaceWith(fresh);
      const attest = document.querySelector(`[data-attest="${video.id}"]`);
      if (attest) attest.hidden = fresh.dataset.whole === "true";
    }

    function say(text) {
      const status = panel() && panel().querySelector("[data-coverage-status]");
      if (status) status.textContent = text;
    }

    function report() {
      queue = queue.then(async () => {
        const ranges = pending();
        if (!ranges.length) return;
        const body = new URLSearchParams({
          csrf: video.dataset.csrf,
          ranges: JSON.stringify(ranges.map(({ start, end, rate }) => ({
            start: Math.round(start * 1000) / 1000, end: Math.round(end * 1000) / 1000, rate }))),
        });
        try {
          const answer = await fetch(video.dataset.coverageUrl, {
            method: "POST", body, credentials: "same-origin",
          });
          const html = await answer.text();
          if (!answer.ok) {
            const page = new DOMParser().parseFromString(html, "text/html");
            const why = page.querySelector(".error strong");
            say(`Your playing was not recorded: ${why ? why.textContent : answer.status}`);
            return;
          }
          for (const { start, end, c } of ranges) sent[c] = merge(sent[c].concat([[start, end]]));
          show(html);
        } catch (err) {
          say(`Your playing was not recorded (${err}); it is sent again with the next report.`);
        }
      });
      return queue;
    }

    video.addEventListener("playing", () => { close(video.currentTime); begin(); });
    video.addEventListener("timeupdate", () => {
      if (video.paused || video.seeking) return;
      const t = video.currentTime;
      if (!open) begin();
      else if (t >= open.end && t - open.end < 1.5) open.end = t;
      else { close(open.end); begin(); }
    });
    video.addEventListener("seeking", () => {
      if (open) {
        // the player was at the end of the played range holding the last time seen
        let end = open.end;
        for (let i = 0; i < video.played.length; i++) {
          if (video.played.start(i) <= open.end + 0.001 && video.played.end(i) >= open.end) {
            end = Math.min(video.played.end(i), open.end + SEEK_REACH_S);
          }
        }
        close(end, true);
      }
      report();
    });
    video.addEventListener("seeked", begin);
    video.addEventListener("ratechange", () => {
      // what was played so far was played at the old speed
      close(video.currentTime);
      report();
      begin();
    });
    for (const name of ["pause", "ended"]) {
      video.addEventListener(name, () => { close(video.currentTime); report(); });
    }
    setInterval(() => { if (!video.paused) report(); }, EVERY_MS);

    // the sign-off waits for the last report, so the seconds just played count
    const form = document.querySelector(`form[data-coverage-flush="${video.id}"]`);
    if (form) {
      form.addEventListener("submit", (event) => {
        if (form.dataset.flushed === "yes") return;
        event.preventDefault();
        if (open) { close(video.currentTime); begin(); }
        report().then(() => { form.dataset.flushed = "yes"; form.submit(); });
      });
    }
  }

  // a jump to a flagged range plays it at normal speed: only that counts there
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-seek][data-rate]");
    if (!link) return;
    const player = document.getElementById(link.dataset.player);
    if (player) player.playbackRate = parseFloat(link.dataset.rate);
  });

  document.querySelectorAll("video[data-coverage-url]").forEach(track);
})();
