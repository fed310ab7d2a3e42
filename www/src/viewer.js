// A read-only window of lines for data too large (or compressed) to put in the editor. The
// lines come from the worker, which keeps the checked bytes; only ~200 lines live in the DOM.

import { int } from './format.js';

const WINDOW = 200;

export class Viewer {
  constructor(root, checker) {
    this.root = root;
    this.checker = checker;
    this.list = root.querySelector('#viewer-lines');
    this.range = root.querySelector('#viewer-range');
    this.goto = root.querySelector('#viewer-goto');
    this.from = 1;
    this.total = 0;
    this.bad = new Set();
    this.active = 0;
    this.seq = 0;
    root.querySelector('#viewer-prev').addEventListener('click', () => this.show(Math.max(1, this.from - WINDOW)));
    root.querySelector('#viewer-next').addEventListener('click', () => this.show(this.from + WINDOW));
    this.goto.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      const n = parseInt(this.goto.value, 10);
      if (n > 0) this.reveal({ line: n, spans: 1 }, false);
    });
  }

  reset() {
    this.from = 1;
    this.total = 0;
    this.bad = new Set();
    this.active = 0;
    this.list.replaceChildren();
    this.range.textContent = '';
  }

  setMarks(diags) {
    this.bad = new Set();
    for (const d of diags) for (let k = 0; k < Math.max(1, d.spans || 1); k++) this.bad.add(d.line + k);
    this.active = 0;
  }

  async reveal(d, focus = true) {
    this.active = d.spotLine || d.line;
    await this.show(Math.max(1, d.line - 20));
    const li = this.list.querySelector(`li[data-line="${this.active}"]`);
    if (li) {
      this.list.scrollTop = li.offsetTop - this.list.clientHeight / 3;
      if (focus) this.list.focus({ preventScroll: true });
    }
  }

  async show(from) {
    const seq = ++this.seq;
    let r;
    try {
      r = await this.checker.lines(from, WINDOW);
    } catch {
      return;
    }
    if (seq !== this.seq) return; // a later request won
    if (r.unavailable) {
      this.range.textContent = 'The decompressed lines cannot be shown (the gzip data is not readable here).';
      this.list.replaceChildren();
      return;
    }
    this.total = r.total;
    this.from = r.lines.length ? r.lines[0].n : from;
    const frag = document.createDocumentFragment();
    for (const l of r.lines) {
      const li = document.createElement('li');
      li.dataset.line = l.n;
      if (this.bad.has(l.n)) li.classList.add('bad');
      if (l.n === this.active) li.classList.add('active');
      const n = document.createElement('span');
      n.className = 'n';
      n.textContent = l.n;
      const t = document.createElement('span');
      t.textContent = l.cut ? `${l.text} …` : l.text;
      li.append(n, t);
      frag.append(li);
    }
    this.list.replaceChildren(frag);
    const last = r.lines.length ? r.lines[r.lines.length - 1].n : from;
    this.range.textContent = `Lines ${int(this.from)}–${int(last)} of ${int(this.total)}`;
    this.list.scrollTop = 0;
  }
}
