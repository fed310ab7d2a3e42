// A textarea with line numbers and marks for rejected lines. Browsers turn CR and CRLF into
// LF in a textarea's value, which would hide the commonest trap (CRLF endings), so a CR is
// kept as the visible sign ↵ and turned back into a CR when the text is checked. (The control
// picture ␍ would be apter, but few fonts have it.)

const CR_SIGN = '\u21b5';

export function toEditorText(s) {
  return s.replace(/\r/g, CR_SIGN);
}

export function fromEditorText(s) {
  return s.replace(/\u21b5/g, '\r');
}

export class Editor {
  constructor(root) {
    this.root = root;
    this.ta = root.querySelector('textarea');
    this.gutter = root.querySelector('.gutter');
    this.gutterInner = root.querySelector('.gutter-inner');
    this.marksBox = root.querySelector('.marks');
    this.marksInner = document.createElement('div');
    this.marksInner.className = 'marks-inner';
    this.marksBox.append(this.marksInner);
    this.marks = new Map(); // line -> { spans, spotLine, spotCol, index }
    this.active = null;
    this.lineStarts = [0];
    this.listeners = [];
    this.frame = 0;
    const cs = getComputedStyle(this.ta);
    this.lh = parseFloat(cs.lineHeight) || 20;
    this.padTop = parseFloat(cs.paddingTop) || 0;
    this.padLeft = parseFloat(cs.paddingLeft) || 0;
    this.font = `${cs.fontSize} ${cs.fontFamily}`;
    this.measure = document.createElement('canvas').getContext('2d');

    this.ta.addEventListener('scroll', () => this.schedule());
    this.ta.addEventListener('input', () => {
      this.reindex();
      this.schedule();
      for (const f of this.listeners) f();
    });
    this.ta.addEventListener('paste', (e) => this.onPaste(e));
    new ResizeObserver(() => this.schedule()).observe(this.ta);
  }

  onChange(f) {
    this.listeners.push(f);
  }

  // Pastes keep their CRs (the clipboard has them; the textarea would drop them).
  onPaste(e) {
    const text = e.clipboardData && e.clipboardData.getData('text/plain');
    if (!text) return;
    if (this.onBigPaste && this.onBigPaste(text, e)) return;
    if (!text.includes('\r')) return;
    e.preventDefault();
    this.insert(toEditorText(text));
  }

  insert(text) {
    this.ta.focus();
    // execCommand keeps the undo history; setRangeText is the fallback.
    if (!document.execCommand('insertText', false, text)) {
      this.ta.setRangeText(text, this.ta.selectionStart, this.ta.selectionEnd, 'end');
      this.ta.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }

  get text() {
    return fromEditorText(this.ta.value);
  }

  setText(s) {
    this.ta.value = toEditorText(s);
    this.ta.scrollTop = 0;
    this.ta.scrollLeft = 0;
    this.reindex();
    this.schedule();
  }

  reindex() {
    const v = this.ta.value;
    const starts = [0];
    for (let i = v.indexOf('\n'); i !== -1; i = v.indexOf('\n', i + 1)) starts.push(i + 1);
    this.lineStarts = starts;
  }

  get lineCount() {
    return this.lineStarts.length;
  }

  lineText(n) {
    const s = this.lineStarts[n - 1];
    if (s === undefined) return '';
    const e = n < this.lineStarts.length ? this.lineStarts[n] - 1 : this.ta.value.length;
    return this.ta.value.slice(s, e);
  }

  // marks: [{ line, spans, spotLine, spotCol }], lines 1-based, spotCol in UTF-16 units.
  setMarks(list) {
    this.marks = new Map();
    list.forEach((m, index) => {
      for (let k = 0; k < Math.max(1, m.spans || 1); k++) {
        if (!this.marks.has(m.line + k)) this.marks.set(m.line + k, { ...m, index, first: k === 0 });
      }
    });
    this.active = null;
    this.schedule();
  }

  // Scrolls to a rejected line, puts the caret on the failing spot and marks it as current.
  reveal(m, focus = true) {
    this.active = m;
    const line = m.spotLine || m.line;
    const start = this.lineStarts[line - 1];
    if (start === undefined) return;
    const lineLen = this.lineText(line).length;
    const col = Math.min(m.spotCol ?? 0, lineLen);
    if (focus) this.ta.focus({ preventScroll: true });
    this.ta.setSelectionRange(start + col, Math.min(start + col + 1, start + lineLen));
    const top = this.padTop + (line - 1) * this.lh;
    this.ta.scrollTop = Math.max(0, top - this.ta.clientHeight / 3);
    const x = this.xOf(line, col);
    const w = this.ta.clientWidth;
    this.ta.scrollLeft = x < w * 0.7 ? 0 : x - w / 2;
    this.schedule();
  }

  xOf(line, col) {
    this.measure.font = this.font;
    // Tabs expand to the textarea's tab stops (tab-size: 8).
    const s = this.lineText(line).slice(0, col);
    let expanded = '';
    for (const ch of s) {
      if (ch === '\t') expanded += ' '.repeat(8 - (expanded.length % 8));
      else expanded += ch;
    }
    return this.padLeft + this.measure.measureText(expanded).width;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  // Only the visible lines get numbers and marks: cheap for a text of any length.
  render() {
    const { scrollTop, scrollLeft, clientHeight } = this.ta;
    const first = Math.max(1, Math.floor((scrollTop - this.padTop) / this.lh) + 1);
    const last = Math.min(this.lineCount, first + Math.ceil(clientHeight / this.lh) + 1);
    const digits = String(this.lineCount).length;
    this.gutter.style.width = `${Math.max(3, digits) + 3}ch`;
    this.gutterInner.style.transform = `translateY(${-scrollTop}px)`;
    const nums = document.createDocumentFragment();
    for (let n = first; n <= last; n++) {
      const d = document.createElement('div');
      d.className = this.marks.has(n) ? 'ln bad' : 'ln';
      d.style.top = `${this.padTop + (n - 1) * this.lh}px`;
      d.textContent = n;
      nums.append(d);
    }
    this.gutterInner.replaceChildren(nums);

    this.marksInner.style.transform = `translate(${-scrollLeft}px, ${-scrollTop}px)`;
    const marks = document.createDocumentFragment();
    for (let n = first; n <= last; n++) {
      const m = this.marks.get(n);
      if (!m) continue;
      const active = this.active && this.active.line === m.line;
      const band = document.createElement('div');
      band.className = active ? 'mark-line active' : 'mark-line';
      band.dataset.line = n;
      band.style.top = `${this.padTop + (n - 1) * this.lh}px`;
      marks.append(band);
      if ((m.spotLine || m.line) === n && m.spotCol != null) {
        const spot = document.createElement('div');
        spot.className = 'mark-spot';
        spot.dataset.line = n;
        spot.style.top = `${this.padTop + (n - 1) * this.lh}px`;
        spot.style.left = `${this.xOf(n, Math.min(m.spotCol, this.lineText(n).length))}px`;
        marks.append(spot);
      }
    }
    this.marksInner.replaceChildren(marks);
  }
}
