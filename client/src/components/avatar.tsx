import { Image, Text, View } from '@tarojs/components';

/** The user's picture, or the first letter of the nickname on WeChat green (rounded square, as WeChat draws avatars). */
export function Avatar(props: { url: string | null | undefined; name: string | null | undefined; size: 'large' | 'medium'; id?: string }) {
  const className = `avatar avatar_${props.size}`;
  if (props.url) return <Image className={className} id={props.id} src={props.url} mode='aspectFill' />;
  const initial = Array.from((props.name ?? '').trim())[0]?.toUpperCase() ?? '';
  if (initial) {
    return (
      <View className={`${className} avatar_placeholder`} id={props.id}>
        <Text className='avatar__initial'>{initial}</Text>
      </View>
    );
  }
  return (
    <View className={`${className} avatar_placeholder avatar_blank`} id={props.id}>
      <View className='avatar__head' />
      <View className='avatar__body' />
    </View>
  );
}
