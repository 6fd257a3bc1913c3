// Node's mjml on the MJML files given: one warm-up, then `repeats` compiles of each; prints the median CPU
// milliseconds (user + system) of each file as JSON. Run by bench/render.py --node (NODE_PATH finds mjml).
"use strict";
const fs = require("fs");
const mjml = require("mjml");

const [, , repeats, ...files] = process.argv;
const medians = {};
for (const file of files) {
  const source = fs.readFileSync(file, "utf8");
  const options = { keepComments: false, fonts: {}, validationLevel: "skip" };
  mjml(source, options);
  const times = [];
  for (let i = 0; i < Number(repeats); i++) {
    const before = process.cpuUsage();
    mjml(source, options);
    const used = process.cpuUsage(before);
    times.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  medians[file] = times[Math.floor(times.length / 2)];
}
console.log(JSON.stringify({ version: require("mjml/package.json").version, medians }));
