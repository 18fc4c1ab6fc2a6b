// A PostCSS plugin (CommonJS: Taro loads local postcss plugins with require) that fits WeUI's stylesheet to this
// app. Both targets: the light theme only (WeUI's dark and "care" variants are dropped: the mini-program does not
// declare `darkmode` in app.json, so WeChat renders it light, and the H5 build matches it). weapp only: WXSS has no
// `*` selector and no html/body elements: `*` and `html` rules go, `body` becomes `page` (the mini-program's root,
// where WeUI's --weui-* variables must be defined).
const DARK_OR_CARE = /\[data-weui-(?:theme|mode)=["']?(?:dark|care)["']?\]/;
const UNIVERSAL = /(^|[\s>+~,(])\*(?=$|[\s>+~,:.[)])/;

function withoutAttributes(selector) {
  return selector.replace(/\[[^\]]*\]/g, '[]');
}

module.exports = (options = {}) => {
  const weapp = options.target === 'weapp';
  return {
    postcssPlugin: 'postcss-weui',
    Once(root) {
      root.walkAtRules('media', (rule) => {
        if (/prefers-color-scheme\s*:\s*dark/.test(rule.params)) rule.remove();
      });
      root.walkRules((rule) => {
        // Keyframe steps are not selectors.
        if (rule.parent && rule.parent.type === 'atrule' && /keyframes$/.test(rule.parent.name)) return;
        let selectors = rule.selectors.filter((s) => !DARK_OR_CARE.test(s));
        if (weapp) {
          selectors = selectors
            .filter((s) => !UNIVERSAL.test(withoutAttributes(s)) && !/(^|[\s>+~])html\b/.test(s))
            .map((s) => s.replace(/(^|[\s>+~])body\b/g, '$1page'));
          selectors = [...new Set(selectors)];
        }
        if (selectors.length === 0) rule.remove();
        else if (selectors.join() !== rule.selectors.join()) rule.selectors = selectors;
      });
    },
  };
};
module.exports.postcss = true;
