import { makeTestImage, startSimulator } from '/work/main/test/simulator/index';
(async () => {
  let t = Date.now();
  const img = await makeTestImage({ width: 1700, height: 1600, format: 'png', noise: 255 });
  console.log('image bytes', img.length, 'ms', Date.now() - t);
  const sim = await startSimulator({ taskDurationMs: 300 });
  const b64 = img.toString('base64');
  t = Date.now();
  const ids = await Promise.all(Array.from({ length: 20 }, async () => {
    const r = await fetch(sim.url + '/v1/images/editing/expand', { method: 'POST', headers: { authorization: 'Bearer sim-api-key', 'content-type': 'application/json' },
      body: JSON.stringify({ image: b64, up_expansion_ratio: 0.2, down_expansion_ratio: 0.2, left_expansion_ratio: 0.3, right_expansion_ratio: 0.3 }) });
    return ((await r.json()) as any).data.task_id as string;
  }));
  console.log('created ms', Date.now() - t, 'rss MB', process.memoryUsage().rss >> 20);
  while ([...sim.tasks.values()].some(x => x.task_status !== 'succeed' && x.task_status !== 'failed')) await new Promise(r => setTimeout(r, 20));
  console.log('all terminal ms', Date.now() - t, [...sim.tasks.values()].map(x => x.task_status + ':' + x.task_status_msg).filter(s => s !== 'succeed:'));
  let total = 0;
  for (const id of ids) { const task = sim.tasks.get(id)!; const r = await fetch(task.task_result!.images[0].url); total += (await r.arrayBuffer()).byteLength; }
  console.log('downloaded MB', total >> 20, 'ms', Date.now() - t, 'rss MB', process.memoryUsage().rss >> 20);
  await sim.close();
})();
