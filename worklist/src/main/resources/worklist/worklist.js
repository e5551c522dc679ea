// The worklist list: polls /api/flagged every 2 s and redraws the rows when the state changed.
// Builds rows with the DOM API (textContent), never innerHTML: study ids and versions are data, not markup.
(function () {
  'use strict';
  var rows = document.getElementById('rows');
  var status = document.getElementById('status');
  var lastVersion = -1;

  function since(iso) {
    if (!iso) { return '?'; }
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 120) { return s + ' s'; }
    if (s < 7200) { return Math.round(s / 60) + ' min'; }
    if (s < 172800) { return Math.round(s / 3600) + ' h'; }
    return Math.round(s / 86400) + ' d';
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    if (cls) { td.className = cls; }
    if (text !== null) { td.textContent = text; }
    tr.appendChild(td);
    return td;
  }

  function render(listing) {
    var fragment = document.createDocumentFragment();
    listing.studies.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.dataset.key = s.key;
      tr.className = s.reviewed ? 'reviewed' : 'open';
      var flagged = cell(tr, null);
      var time = document.createElement('time');
      time.dateTime = s.flaggedAt;
      time.textContent = new Date(s.flaggedAt).toLocaleTimeString();
      flagged.appendChild(time);
      var study = cell(tr, null);
      var a = document.createElement('a');
      a.href = '/studies/' + encodeURIComponent(s.key);
      a.textContent = s.studyId;
      study.appendChild(a);
      cell(tr, s.decision, 'decision ' + s.decision.toLowerCase().replace('_', '-'));
      cell(tr, s.ensembleProbability === null ? '?' : s.ensembleProbability.toFixed(3), 'num');
      var models = cell(tr, null);
      s.models.forEach(function (m) {
        var span = document.createElement('span');
        span.className = 'model';
        span.textContent = m.model + ' ' + m.probability.toFixed(3) + ' ';
        var small = document.createElement('small');
        small.textContent = m.version;
        span.appendChild(small);
        models.appendChild(span);
      });
      s.missingModels.forEach(function (m) {
        var span = document.createElement('span');
        span.className = 'model missing';
        span.textContent = m + ' missing';
        models.appendChild(span);
      });
      var sinceCell = cell(tr, since(s.acquiredAt), 'since');
      sinceCell.dataset.acquired = s.acquiredAt || '';
      cell(tr, s.reviewed ? 'reviewed: ' + s.reviewLabel + (s.reviewer ? ' (' + s.reviewer + ')' : ' (' + s.reviewSource + ')')
        : 'open', 'reviewed-cell');
      fragment.appendChild(tr);
    });
    rows.replaceChildren(fragment);
  }

  function tick() {
    fetch(location.origin + '/api/flagged', { headers: { 'Accept': 'application/json' }, cache: 'no-store' })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (listing) {
        status.textContent = (listing.caughtUp ? 'live' : 'reading the topics ...') + ' - ' + listing.studies.length
          + ' flagged, updated ' + new Date().toLocaleTimeString();
        status.className = 'status ok';
        if (listing.version !== lastVersion) {
          lastVersion = listing.version;
          render(listing);
        } else {
          rows.querySelectorAll('td.since').forEach(function (td) { td.textContent = since(td.dataset.acquired); });
        }
      })
      .catch(function (e) {
        status.textContent = 'connection lost (' + e.message + '), retrying ...';
        status.className = 'status error';
      });
  }

  rows.querySelectorAll('td.since').forEach(function (td) { td.textContent = since(td.dataset.acquired); });
  tick();
  setInterval(tick, 2000);
})();
