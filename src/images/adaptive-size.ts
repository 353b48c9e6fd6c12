/**
 * SeedEdit 3.0 `size: "adaptive"` (UPSTREAMS.md §1.5): the output size is the row whose listed ratio is
 * closest to the input's width/height, the first such row on a tie, in the official order
 * (1.82 precedes 1.78 there, and so it does here).
 */

const TABLE = `0.33 512x1536 0.35 544x1536 0.38 576x1536 0.4 608x1536 0.42 640x1536
0.47 640x1376 0.51 672x1312 0.55 704x1280 0.56 736x1312 0.6 768x1280
0.63 768x1216 0.66 800x1216 0.67 832x1248 0.7 832x1184 0.72 832x1152
0.75 864x1152 0.78 896x1152 0.82 896x1088 0.85 928x1088 0.88 960x1088
0.91 992x1088 0.94 1024x1088 0.97 1024x1056 1 1024x1024 1.06 1056x992
1.1 1088x992 1.17 1120x960 1.24 1152x928 1.29 1152x896 1.33 1152x864
1.42 1184x832 1.46 1216x832 1.5 1248x832 1.56 1248x800 1.62 1248x768
1.67 1280x768 1.74 1280x736 1.82 1280x704 1.78 1312x736 1.86 1312x704
1.95 1312x672 2 1344x672 2.05 1376x672 2.1 1408x672 2.2 1408x640
2.25 1440x640 2.3 1472x640 2.35 1504x640 2.4 1536x640 2.53 1536x608
2.67 1536x576 2.82 1536x544 3 1536x512`;

export interface AdaptiveRow {
  ratio: number;
  width: number;
  height: number;
}

export const ADAPTIVE_TABLE: readonly AdaptiveRow[] = (() => {
  const tokens = TABLE.split(/\s+/).filter(Boolean);
  const rows: AdaptiveRow[] = [];
  for (let index = 0; index < tokens.length; index += 2) {
    const [width, height] = (tokens[index + 1] ?? "").split("x").map(Number);
    rows.push({ ratio: Number(tokens[index]), width: width ?? 0, height: height ?? 0 });
  }
  return Object.freeze(rows);
})();

/** The output size SeedEdit gives an input of `width`×`height` (as displayed, after EXIF orientation). */
export function adaptiveSize(width: number, height: number): { width: number; height: number } {
  const target = width / height;
  let best = ADAPTIVE_TABLE[0] as AdaptiveRow;
  let bestDistance = Math.abs(best.ratio - target);
  for (const row of ADAPTIVE_TABLE) {
    const distance = Math.abs(row.ratio - target);
    if (distance < bestDistance) {
      best = row;
      bestDistance = distance;
    }
  }
  return { width: best.width, height: best.height };
}
