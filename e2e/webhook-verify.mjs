// Verifies webhook deliveries with the Standard Webhooks reference library
// (npm standardwebhooks), independently of the broker's Go signing code.
// Input (argv[2]): a JSON file, an array of
//   {secret, id, timestamp, signature, body_base64, expect_valid}
// Prints {"verified": n, "refused": m} and exits 1 if any message's outcome
// differs from expect_valid.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const messages = JSON.parse(readFileSync(process.argv[2], "utf8"));
let verified = 0, refused = 0, wrong = [];
for (const m of messages) {
  const wh = new Webhook(m.secret);
  let ok = true;
  try {
    wh.verify(Buffer.from(m.body_base64, "base64"), {
      "webhook-id": m.id, "webhook-timestamp": String(m.timestamp), "webhook-signature": m.signature,
    });
  } catch (e) {
    ok = false;
  }
  ok ? verified++ : refused++;
  if (ok !== m.expect_valid) wrong.push(m.id);
}
console.log(JSON.stringify({ verified, refused, wrong }));
process.exit(wrong.length ? 1 : 0);
