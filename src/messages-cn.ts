/**
 * The Chinese of the gateway's field errors (`message_cn`), so that a 302 client reading it gets a whole
 * Chinese sentence, not English in a Chinese frame. Rules are translated by pattern; values (`got …`),
 * field names, model ids and numbers are kept as they are. A rule without a translation is named by its
 * field and points to `message`.
 */

const RULES: Array<[RegExp, (...groups: string[]) => string]> = [
  [/^must be an integer in \[(-?\d+), (-?\d+)\], or such an integer written as a string$/, (a, b) => `必须是 [${a}, ${b}] 内的整数，或写成字符串的这样的整数`],
  [/^must be an integer in \[(-?\d+), (-?\d+)\] for (.+)$/, (a, b, model) => `${model} 要求 [${a}, ${b}] 内的整数`],
  [/^must be an integer in \[(-?\d+), (-?\d+)\]$/, (a, b) => `必须是 [${a}, ${b}] 内的整数`],
  [/^must be a number in \[(-?[\d.]+), (-?[\d.]+)\]$/, (a, b) => `必须是 [${a}, ${b}] 内的数字`],
  [/^must be a boolean \(true or false\)$/, () => "必须是布尔值（true 或 false）"],
  [/^must be "true" or "false"$/, () => '必须是 "true" 或 "false"'],
  [/^must be a non-empty string$/, () => "必须是非空字符串"],
  [/^must be a string$/, () => "必须是字符串"],
  [/^must not be empty$/, () => "不能为空"],
  [/^must be at most (\d+) characters$/, (n) => `最多 ${n} 个字符`],
  [/^must be "url" or "b64_json"$/, () => '必须是 "url" 或 "b64_json"'],
  [/^must be one of 0, 0\.1, 0\.2, …, 1$/, () => "必须是 0、0.1、0.2……1 之一"],
  [/^must be one of (.+)$/, (list) => `必须是以下之一：${list}`],
  [/^must be (\S+) or (\S+)$/, (a, b) => `必须是 ${a} 或 ${b}`],
  [/^must be a string naming a served model$/, () => "必须是网关提供的模型名称"],
  [/^must be a size keyword such as "2K" or "<W>x<H>"$/, () => '必须是尺寸关键字（如 "2K"）或 "<宽>x<高>"'],
  [/^must be "<W>x<H>" with each side an integer in \[(\d+), (\d+)\], e\.g\. "1024x1024"$/, (a, b) => `必须是 "<宽>x<高>"，每边为 [${a}, ${b}] 内的整数，例如 "1024x1024"`],
  [/^must be "adaptive"(.*)$/, () => '必须是 "adaptive"（输出尺寸由输入图片比例决定）'],
  [/^must be a day, YYYY-MM-DD$/, () => "必须是日期，格式 YYYY-MM-DD"],
  [/^must be a day that exists, YYYY-MM-DD$/, () => "必须是存在的日期，格式 YYYY-MM-DD"],
  [/^must be a positive integer \((.+)\) or null for no limit$/, (what) => `必须是正整数（${what}），或 null 表示不限`],
  [/^must be at least 1 \((.+)\), or null for no limit$/, (what) => `至少为 1（${what}），或 null 表示不限`],
  [/^must be an amount ≥ 0 in the price currency, or null for no limit$/, () => "必须是 ≥ 0 的金额（价格币种），或 null 表示不限"],
  [/^must be ≥ 0, or null for no limit$/, () => "必须 ≥ 0，或 null 表示不限"],
  [/^must be an ISO 8601 date-time such as (\S+), or null$/, (example) => `必须是 ISO 8601 日期时间（如 ${example}），或 null`],
  [/^must list models among (.+)$/, (list) => `只能列出以下模型：${list}`],
  [/^must list at least one (\w+)(.*)$/, () => "至少列出一项"],
  [/^must list at most (\d+) images$/, (n) => `最多 ${n} 张图片`],
  [/^must be an image(.*)$/, () => "必须是图片：http(s) URL 或 data URL（data:image/<格式>;base64,…），或这样的数组"],
  [/^must be one (image|photo): .*$/, () => "必须是一张图片：http(s) URL 或 data URL data:image/<png|jpeg>;base64,<…>"],
  [/^must be an object \{(.+)\}$/, (fields) => `必须是对象 {${fields}}`],
  [/^must be an array such as (.+)$/, (example) => `必须是数组，例如 ${example}`],
  [/^is not a known field$/, () => "不是已知字段"],
  [/^the image must be (.+); its bytes are (.+)$/, (formats, actual) => `图片格式必须是 ${formats.replace(/ or /g, " 或 ")}，实际为 ${actual === "not a known image format" ? "未知格式" : actual}`],
  [/^the image is (\d+x\d+) px; each side must be over (\d+) px$/, (size, min) => `图片为 ${size} 像素，每边必须大于 ${min} 像素`],
  [/^the image is (\d+x\d+) px; each side must be at most (\d+) px$/, (size, max) => `图片为 ${size} 像素，每边最多 ${max} 像素`],
  [/^the image is (\d+x\d+) px \(width\/height ([\d.]+)\); width\/height must be (.+)$/, (size, ratio, rule) =>
    `图片为 ${size} 像素（宽高比 ${ratio}），宽高比必须${rule.replace("strictly between", "严格介于").replace(" and ", " 与 ").replace("in ", "在 ")}`],
  [/^the image is ([\d.]+ MB) \((\d+) bytes\); the limit is 10 MB .*$/, (size) => `图片为 ${size}，上限为 10 MB`],
  [/^the image is empty \(0 bytes\)$/, () => "图片为空（0 字节）"],
  [/^the (\w+) image is corrupt or truncated and cannot be (read|decoded)$/, (format) => `${format} 图片已损坏或不完整，无法解码`],
  [/^the image URL's host (\S+) points to a non-public address \((.+)\); the gateway only fetches public addresses$/, (host, address) => `图片 URL 的主机 ${host} 指向非公网地址（${address}），网关只获取公网地址`],
  [/^(\S+) accepts (.+)$/, (model, rule) => `${model} 支持 ${translateAccepts(rule)}`],
];

/** A capability rule ("at most 14 reference images", "only false (no streaming)", …) in Chinese. */
function translateAccepts(rule: string): string {
  return rule
    .replace(/^one of (.+), or "<W>x<H>" with W×H in \[(\d+), (\d+)\] pixels and W\/H in \[(\S+), (\S+)\]$/, '$1 之一，或 "<宽>x<高>"，总像素在 [$2, $3] 内、宽高比在 [$4, $5] 内')
    .replace(/^one of (.+), or "<W>x<H>" with W×H at least (\d+) pixels and W\/H in \[(\S+), (\S+)\]$/, '$1 之一，或 "<宽>x<高>"，总像素至少 $2、宽高比在 [$3, $4] 内')
    .replace(/^at most (\d+) reference images? with group generation .*$/, "组图模式下最多 $1 张参考图（参考图与生成图合计不超过上限）")
    .replace(/^at most (\d+) reference images?$/, "最多 $1 张参考图")
    .replace(/^at most (\d+) images with (\d+) reference images? .*$/, "在 $2 张参考图时最多生成 $1 张（参考图与生成图合计不超过上限）")
    .replace(/^only "disabled" \(no group generation\)$/, '仅 "disabled"（不支持组图）')
    .replace(/^only false \(no streaming\)$/, "仅 false（不支持流式输出）")
    .replace(/^tool types (.+)$/, "工具类型 $1")
    .replace(/\bnone\b/, "无");
}

/** `message_cn` for `Invalid parameter \`x\`: <rule> (got <value>).`; undefined when the message has another form. */
export function chineseFieldMessage(param: string, message: string): string {
  const match = /^Invalid parameter `[^`]+`: (.+?)(?: \(got (.+)\))?\.$/s.exec(message);
  const rule = match?.[1];
  const got = match?.[2] !== undefined ? `（收到 ${match[2].replace(/ pixels, W\/H /, " 像素，宽高比 ")}）` : "";
  if (rule) {
    for (const [pattern, render] of RULES) {
      const found = pattern.exec(rule);
      if (found) return `参数 \`${param}\` 无效：${render(...found.slice(1))}${got}。`;
    }
  }
  return `参数 \`${param}\` 无效，规则见 message 字段。`;
}
