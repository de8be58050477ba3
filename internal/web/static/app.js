// Berth dashboard: progressive enhancement only. Every page works without
// this script; it localises times, follows site-creation progress, adds copy
// buttons and a confirmation prompt on destructive forms.
(function () {
  'use strict';

  const dateOnly = /^\d{4}-\d{2}-\d{2}$/;
  const fmtDateTime = new Intl.DateTimeFormat(undefined, {
    day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit',
  });
  const fmtDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  const fmtDateUTC = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  const fmtRel = typeof Intl.RelativeTimeFormat === 'function'
    ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' }) : null;
  const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
    ['hour', 3600], ['minute', 60], ['second', 1]];

  function relative(ms) {
    const secs = (ms - Date.now()) / 1000;
    const abs = Math.abs(secs);
    if (abs < 45) return fmtRel.format(0, 'second');
    for (const [unit, size] of units) {
      if (abs >= size * 0.9 || unit === 'second') return fmtRel.format(Math.round(secs / size), unit);
    }
    return '';
  }

  function localiseTimes(onlyRelative) {
    document.querySelectorAll('time[datetime]').forEach((el) => {
      const raw = el.getAttribute('datetime').trim();
      const format = el.dataset.format || 'datetime';
      if (onlyRelative && format !== 'relative') return;
      const ms = Date.parse(raw);
      if (Number.isNaN(ms)) return;
      const d = new Date(ms);
      if (!el.hasAttribute('title')) {
        const iso = d.toISOString();
        el.title = dateOnly.test(raw) ? iso.slice(0, 10) + ' UTC' : iso.slice(0, 10) + ' ' + iso.slice(11, 16) + ' UTC';
      }
      let text;
      if (format === 'relative' && fmtRel) text = relative(ms);
      else if (format === 'date' || dateOnly.test(raw)) text = (dateOnly.test(raw) ? fmtDateUTC : fmtDate).format(d);
      else text = fmtDateTime.format(d);
      if (text && el.textContent !== text) el.textContent = text;
    });
  }

  function watch(el) {
    let url;
    try { url = new URL(el.dataset.watchUrl, location.href); } catch (_) { return; }
    if (url.origin !== location.origin) return;
    const deadline = Date.now() + 15 * 60 * 1000;
    const message = el.querySelector('[data-watch-message]');
    const badge = el.querySelector('[data-watch-state]');

    function update(data) {
      if (message && typeof data.message === 'string') message.textContent = data.message;
      if (badge) {
        if (typeof data.state_class === 'string' && /^state-[a-z_]+$/.test(data.state_class)) {
          [...badge.classList].filter((c) => c.startsWith('state-')).forEach((c) => badge.classList.remove(c));
          badge.classList.add(data.state_class);
        }
        if (typeof data.state === 'string') badge.textContent = data.state;
      }
    }

    async function poll() {
      if (Date.now() > deadline) return;
      let delay = 1500;
      try {
        const res = await fetch(url.href, {
          mode: 'same-origin', credentials: 'same-origin', cache: 'no-store',
          headers: { Accept: 'application/json' },
        });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const data = await res.json();
        if (data === null || typeof data !== 'object') throw new Error('bad response');
        update(data);
        if (data.done === true || data.failed === true) {
          if ('watchReload' in el.dataset) location.reload();
          return;
        }
      } catch (_) {
        delay = 5000;
      }
      setTimeout(poll, delay);
    }
    setTimeout(poll, 1500);
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'copy-buffer';
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    if (!ok) throw new Error('copy failed');
  }

  function onClick(e) {
    const btn = e.target instanceof Element ? e.target.closest('button[data-copy]') : null;
    if (!btn) return;
    e.preventDefault();
    let src = null;
    try { src = document.querySelector(btn.dataset.copy); } catch (_) { return; }
    if (!src) return;
    if (!btn.dataset.label) btn.dataset.label = btn.textContent;
    copyText(src.textContent.trim()).then(() => {
      btn.textContent = 'Copied';
    }, () => {
      const range = document.createRange();
      range.selectNodeContents(src);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      btn.textContent = 'Press Ctrl+C';
    }).finally(() => {
      clearTimeout(Number(btn.dataset.timer));
      btn.dataset.timer = String(setTimeout(() => { btn.textContent = btn.dataset.label; }, 1800));
    });
  }

  function onSubmit(e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) return;
    if (!window.confirm(form.dataset.confirm || 'Are you sure?')) e.preventDefault();
  }

  function init() {
    localiseTimes(false);
    if (fmtRel && document.querySelector('time[datetime][data-format="relative"]')) {
      setInterval(() => localiseTimes(true), 30000);
    }
    document.querySelectorAll('[data-watch-url]').forEach(watch);
    document.addEventListener('click', onClick);
    document.addEventListener('submit', onSubmit);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
