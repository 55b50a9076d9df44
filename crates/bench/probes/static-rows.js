// A diagnosis for stowaway-bench-app --probe-js: replaces the page with a static
// list of 5,000 rows shaped like the library's (a title, a 40-word summary, the
// same classes), then scrolls through it 600 px a frame as the benchmark
// scrolls the real list. What the web process grows by is WebKit's own cost of
// painting that many rows, with no virtual list involved.
const done = arguments[arguments.length - 1];
const m = document.getElementById('content');
m.replaceChildren();
const tall = document.createElement('ol');
tall.className = 'items virtual';
tall.style.height = '290000px';
m.append(tall);
const syl = ["ka","lo","mi","ne","ru","sa","te","vo","zi","ba","de","fo","gu","ha","ji","pe","qua","ro","shi","tu"];
let seed = 7; const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const word = () => syl[rnd(20)] + syl[rnd(20)] + (rnd(2) ? syl[rnd(20)] : "");
for (let i = 0; i < 5000; i++) {
  const li = document.createElement('li'); li.className = 'item'; li.style.top = (i*58)+'px';
  const b = document.createElement('button'); b.className = 'item-main';
  const num = document.createElement('span'); num.className='num'; num.textContent='▸';
  const t = document.createElement('span'); t.className='item-text';
  const ti = document.createElement('span'); ti.className='item-title'; ti.textContent = word()+' '+word()+' '+word()+' s'+i;
  const su = document.createElement('span'); su.className='item-sub'; su.textContent = 'Nov 3, 2026 · ' + Array.from({length:40}, word).join(' ');
  t.append(ti, su); b.append(num, t); li.append(b); tall.append(li);
}
m.scrollTop = 0;
function frame() {
  if (m.scrollTop >= 290000 - m.clientHeight - 1) { setTimeout(() => done(m.scrollTop), 1000); return; }
  m.scrollTop += 600;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
