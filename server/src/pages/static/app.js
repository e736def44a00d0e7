// Progressive enhancements only: every page works without this file.
(function () {
  'use strict';

  // Upload with a progress bar: send the same multipart form with XHR so the
  // browser can report progress, then follow the server's redirect.
  function enhanceUpload(form) {
    var bar = document.getElementById('upload-progress');
    var label = document.getElementById('upload-progress-label');
    var status = document.getElementById('upload-status');
    form.addEventListener('submit', function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      var button = form.querySelector('button[type=submit]');
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
      xhr.responseType = 'json';
      if (bar) { bar.hidden = false; bar.value = 0; }
      if (label) { label.hidden = false; }
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable && bar) {
          bar.max = e.total; bar.value = e.loaded;
          if (label) { label.textContent = Math.round(100 * e.loaded / e.total) + '%'; }
        }
      });
      xhr.upload.addEventListener('load', function () {
        if (status) { status.hidden = false; status.textContent = status.getAttribute('data-processing'); }
      });
      xhr.addEventListener('load', function () {
        var body = xhr.response || {};
        if (xhr.status >= 200 && xhr.status < 300 && body.redirect) {
          window.location.assign(body.redirect);
          return;
        }
        if (button) { button.disabled = false; }
        if (status) {
          status.hidden = false;
          status.setAttribute('role', 'alert');
          status.className = 'alert';
          status.textContent = (body.error && body.error.message) || ('HTTP ' + xhr.status);
        }
      });
      xhr.addEventListener('error', function () {
        if (button) { button.disabled = false; }
        if (status) { status.hidden = false; status.className = 'alert'; status.setAttribute('role', 'alert'); status.textContent = 'network error / 网络错误'; }
      });
      xhr.send(new FormData(form));
    });
  }

  // Ctrl+Enter (or Cmd+Enter) runs the SQL console.
  function enhanceConsole(textarea) {
    textarea.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        textarea.form.submit();
      }
    });
  }

  // Copy buttons next to code snippets.
  function enhanceSnippets() {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll('pre[data-copy]').forEach(function (pre) {
      var b = document.createElement('button');
      b.type = 'button'; b.className = 'secondary small';
      b.textContent = document.documentElement.lang === 'en' ? 'Copy' : '复制';
      b.addEventListener('click', function () {
        navigator.clipboard.writeText(pre.textContent).then(function () {
          b.textContent = document.documentElement.lang === 'en' ? 'Copied' : '已复制';
        });
      });
      pre.parentNode.insertBefore(b, pre);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('upload-form');
    if (form) { enhanceUpload(form); }
    var sql = document.getElementById('sql');
    if (sql) { enhanceConsole(sql); }
    enhanceSnippets();
  });
})();
