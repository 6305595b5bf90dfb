// Runs before `npm start` and `npm test` on any Node (plain JavaScript on purpose), so that an
// old Node gets one clear sentence instead of a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `Bazaar needs Node.js 22.18 or newer (it runs TypeScript through Node's type stripping); this is ${process.version}.\n` +
      'Install a current Node, e.g.: npm i --prefix ~/.node24 node@24 && export PATH=~/.node24/node_modules/.bin:$PATH',
  );
  process.exit(1);
}
