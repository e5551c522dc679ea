// The study page: draws the X-ray on a canvas from 16-bit samples with the user's window/level, lays the
// heatmap over it at the chosen opacity, and sends the radiologist's verdict, once per click.
(function () {
  'use strict';
  var main = document.getElementById('study');
  var key = main.dataset.key;
  var canvas = document.getElementById('xray');
  var ctx = canvas.getContext('2d');
  var toggle = document.getElementById('heatmap-toggle');
  var opacity = document.getElementById('opacity');
  var center = document.getElementById('window-center');
  var width = document.getElementById('window-width');
  var samples = null;
  var gray = null; // ImageBitmap-like canvas holding the windowed X-ray
  var heat = null;
  var defaults = { center: 32768, width: 65535 };

  function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]; }

  function autoWindow() {
    var step = Math.max(1, Math.floor(samples.length / 20000));
    var pick = [];
    for (var i = 0; i < samples.length; i += step) { pick.push(samples[i]); }
    pick.sort(function (a, b) { return a - b; });
    var lo = percentile(pick, 0.01), hi = percentile(pick, 0.99);
    defaults = { center: Math.round((lo + hi) / 2), width: Math.max(64, hi - lo) };
    center.value = defaults.center;
    width.value = defaults.width;
  }

  function windowed() {
    var c = Number(center.value), w = Number(width.value);
    var lo = c - w / 2;
    var image = new ImageData(canvas.width, canvas.height);
    var px = image.data;
    for (var i = 0; i < samples.length; i++) {
      var v = Math.round(((samples[i] - lo) / w) * 255);
      v = v < 0 ? 0 : (v > 255 ? 255 : v);
      var j = i * 4;
      px[j] = v; px[j + 1] = v; px[j + 2] = v; px[j + 3] = 255;
    }
    if (!gray) { gray = document.createElement('canvas'); gray.width = canvas.width; gray.height = canvas.height; }
    gray.getContext('2d').putImageData(image, 0, 0);
  }

  function draw() {
    if (!gray) { return; }
    ctx.globalAlpha = 1;
    ctx.drawImage(gray, 0, 0);
    var show = toggle && toggle.checked && heat !== null;
    if (show) {
      ctx.globalAlpha = Number(opacity.value) / 100;
      ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
      ctx.globalAlpha = 1;
    }
    canvas.dataset.heatmapDrawn = show ? 'true' : 'false';
  }

  fetch(location.origin + '/studies/' + encodeURIComponent(key) + '/pixels', { cache: 'no-store' })
    .then(function (r) {
      if (!r.ok) { return r.text().then(function () { throw new Error('the X-ray could not be loaded (HTTP ' + r.status + ')'); }); }
      canvas.width = Number(r.headers.get('X-Image-Width'));
      canvas.height = Number(r.headers.get('X-Image-Height'));
      return r.arrayBuffer();
    })
    .then(function (buffer) {
      samples = new Uint16Array(buffer);
      autoWindow();
      windowed();
      draw();
      canvas.dataset.xrayDrawn = 'true';
    })
    .catch(function (e) {
      canvas.dataset.xrayDrawn = 'failed';
      var p = document.createElement('p');
      p.className = 'warn';
      p.id = 'xray-error';
      p.textContent = e.message;
      canvas.parentNode.appendChild(p);
    });

  if (main.dataset.heatmap === 'available') {
    var img = new Image();
    img.onload = function () { heat = img; draw(); };
    img.onerror = function () { if (toggle) { toggle.disabled = true; } };
    img.src = location.origin + '/studies/' + encodeURIComponent(key) + '/heatmap.png';
  }

  [center, width].forEach(function (el) { el.addEventListener('input', function () { if (samples) { windowed(); draw(); } }); });
  [toggle, opacity].forEach(function (el) { if (el) { el.addEventListener('input', draw); el.addEventListener('change', draw); } });
  document.getElementById('reset-window').addEventListener('click', function () {
    center.value = defaults.center; width.value = defaults.width; if (samples) { windowed(); draw(); }
  });

  // ---- the verdict: one click id per press; retries (network errors, 503) resend the same id
  var outcome = document.getElementById('outcome');
  if (!outcome) { return; }
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  var buttons = document.querySelectorAll('.actions button');

  function send(click, attempt) {
    return fetch(location.origin + '/studies/' + encodeURIComponent(key) + '/label', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': main.dataset.csrf },
      body: JSON.stringify(click)
    }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      if (res.status === 503 && attempt < 3) {
        return new Promise(function (ok) { setTimeout(ok, 1000 * (attempt + 1)); }).then(function () { return send(click, attempt + 1); });
      }
      return res;
    }, function (e) {
      if (attempt < 3) {
        return new Promise(function (ok) { setTimeout(ok, 1000 * (attempt + 1)); }).then(function () { return send(click, attempt + 1); });
      }
      throw e;
    });
  }

  buttons.forEach(function (button) {
    button.addEventListener('click', function () {
      var click = { clickId: uuid(), verdict: button.dataset.verdict, note: document.getElementById('note').value };
      outcome.dataset.clickId = click.clickId;
      outcome.dataset.verdict = click.verdict;
      outcome.textContent = 'recording ...';
      buttons.forEach(function (b) { b.disabled = true; });
      send(click, 0).then(function (res) {
        if (res.status === 200) {
          outcome.textContent = (res.body.outcome === 'PUBLISHED' ? 'Recorded: ' : 'Already recorded: ') + res.body.label
            + ' by ' + res.body.reviewer + '.';
          outcome.className = 'outcome ok';
          outcome.dataset.outcome = res.body.outcome;
          var review = document.getElementById('review');
          if (review) { review.textContent = 'Reviewed: ' + res.body.label + ' (RADIOLOGIST, ' + res.body.reviewer + ')'; review.className = 'review done'; }
        } else {
          outcome.textContent = 'Not recorded: ' + (res.body.message || ('HTTP ' + res.status));
          outcome.className = 'outcome error';
          outcome.dataset.outcome = 'ERROR';
          buttons.forEach(function (b) { b.disabled = false; });
        }
      }, function (e) {
        outcome.textContent = 'Not recorded (' + e.message + '); try again.';
        outcome.className = 'outcome error';
        outcome.dataset.outcome = 'ERROR';
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  });
})();
