import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_QUERY_TOKENS,
  MIN_PREFIX_LENGTH,
  queryTokens,
  SHORT_PREFIX_TAIL,
  toPrefixTsQuery,
} from './search.ts';

describe('search query building', () => {
  it('when the text has several words, then all are required and the last is a prefix', () => {
    assert.equal(toPrefixTsQuery('red mug'), 'red & mug:*');
    assert.equal(toPrefixTsQuery('  Red   Mug  '), 'Red & Mug:*');
    assert.equal(toPrefixTsQuery('mug'), 'mug:*');
  });

  it('when a lone word is shorter than three characters, then it is a whole word, not a prefix', () => {
    assert.equal(MIN_PREFIX_LENGTH, 3);
    assert.equal(toPrefixTsQuery('mu'), 'mu');
    assert.equal(toPrefixTsQuery('m'), 'm');
    assert.equal(toPrefixTsQuery('чай'), 'чай:*', 'characters, not bytes');
  });

  it('when a short last word follows other words, then two letters are a prefix and one is left out', () => {
    assert.equal(toPrefixTsQuery('red mu'), 'red & mu:*');
    assert.equal(toPrefixTsQuery('red m'), 'red');
    assert.equal(toPrefixTsQuery('usb c'), 'usb');
    assert.equal(toPrefixTsQuery('ч ай'), 'ч & ай:*', 'characters, not bytes');
    assert.equal(toPrefixTsQuery('mu red'), 'mu & red:*', 'only the last word can be a prefix');
  });

  it('when the last word is a short prefix, then the tail pattern finds it and only it', () => {
    const tail = new RegExp(SHORT_PREFIX_TAIL, 'u');
    for (const text of ['red mu', 'big red mu', 'ч ай', 'mug 2л']) {
      assert.ok(tail.test(toPrefixTsQuery(text)!), text);
    }
    for (const text of ['red mug', 'red', 'mu', 'red m', 'чай', 'mu red']) {
      assert.ok(!tail.test(toPrefixTsQuery(text)!), text);
    }
    assert.equal(toPrefixTsQuery('big red mu')!.replace(tail, ''), 'big & red');
  });

  it('when the text holds tsquery operators or quotes, then they only separate words', () => {
    assert.equal(toPrefixTsQuery('a & | bee'), 'a & bee:*');
    assert.equal(
      toPrefixTsQuery("'; drop table catalog.products; --"),
      'drop & table & catalog & products:*',
    );
    assert.equal(toPrefixTsQuery('!red:* <-> (mug)'), 'red & mug:*');
    assert.equal(toPrefixTsQuery("o'neil\\xy"), 'o & neil & xy:*');
  });

  it('when the text holds no letter or digit, then there is no query', () => {
    for (const text of ['', '   ', "'", '&', '|', '!', ':*', '\\', '(((', '—…', '🙂🙂']) {
      assert.equal(toPrefixTsQuery(text), null, JSON.stringify(text));
    }
  });

  it('when the text has more words than the limit, then only the first ones count', () => {
    const words = Array.from({ length: 25 }, (_, i) => `word${i}`);
    const tokens = queryTokens(words.join(' '));
    assert.equal(tokens.length, MAX_QUERY_TOKENS);
    assert.deepEqual(tokens, words.slice(0, MAX_QUERY_TOKENS));
    assert.ok(toPrefixTsQuery(words.join(' '))!.endsWith(`word${MAX_QUERY_TOKENS - 1}:*`));
  });

  it('when the text has accents, other scripts or compatibility forms, then letters and digits are kept', () => {
    assert.equal(toPrefixTsQuery('Café crème'), 'Café & crème:*');
    assert.equal(toPrefixTsQuery('чайник 2л'), 'чайник & 2л:*');
    assert.equal(toPrefixTsQuery('ｍｕｇ ﬁne'), 'mug & fine:*');
    assert.equal(toPrefixTsQuery('Cafe\u0301'), 'Café:*', 'combining accents are composed first');
  });
});
